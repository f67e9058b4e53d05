"""Agency scoping: every agency-owned queryset is read through ``for_agency(user)``."""

from __future__ import annotations

from django.db import models


class AgencyScopedQuerySet(models.QuerySet):
    """A queryset of rows that carry an ``agency`` foreign key (or another path set in ``agency_path``)."""

    agency_path = "agency"

    def for_agency(self, user) -> AgencyScopedQuerySet:
        """Rows ``user`` may reach: all for city-wide users, their agencies' rows otherwise, none when anonymous."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        ids = user.visible_agency_ids()
        if ids is None:
            return self
        return self.filter(**{f"{self.agency_path}_id__in": ids})


def can_reach_agency(user, agency_id: int | None) -> bool:
    """Whether ``user`` may reach rows of the agency with ``agency_id``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    ids = user.visible_agency_ids()
    if ids is None:
        return True
    return agency_id is not None and agency_id in ids
