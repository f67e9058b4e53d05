"""Core pages: sign-in/out, the dashboard, the change log and the error pages."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from django import forms
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from citygov.core.auth import is_locked_out, record_login, record_logout
from citygov.core.dashboard import Tile, TileValue, tiles_for
from citygov.core.filtersets import ChangeLogFilterSet
from citygov.core.models import ChangeLog
from citygov.core.roles import Capability


class LoginForm(AuthenticationForm):
    """Sign-in form that tells a locked-out user so, instead of a generic failure."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed sign-ins: this account is locked for a while. Try again later or ask an administrator."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and is_locked_out(username):
            # Still run authenticate so the attempt is logged, but answer with the lock-out message.
            with contextlib.suppress(forms.ValidationError):
                super().clean()
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()


class LoginView(auth_views.LoginView):
    """Sign in and record it in the change log."""

    form_class = LoginForm
    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        record_login(form.get_user(), self.request)
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only, CSRF-protected) and record it."""
    if request.user.is_authenticated:
        record_logout(request.user, request)
    auth.logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("core:login")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers (no data, no login)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@dataclass(frozen=True)
class TileCard:
    """A dashboard tile ready to render: the registered tile, its value and the figure as text."""

    tile: Tile
    value: TileValue
    figure: str

    @property
    def is_empty(self) -> bool:
        """No figure to show: the module has no data yet."""
        return self.value.value is None


def _figure(value: object) -> str:
    """The headline figure with digit grouping (4,611), or an empty string when there is none."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_format(value, force_grouping=True)
    return str(value)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every audit indicator the user may see on one page, each figure computed within their agency scope."""
    cards = [TileCard(tile, value, _figure(value.value)) for tile, value in tiles_for(request.user)]
    return render(request, "core/dashboard.html", {"cards": cards})


CHANGELOG_PAGE_SIZE = 50


def _pretty_json(data) -> str:
    """Changed fields as indented JSON; Chinese stays readable instead of \\u escapes."""
    if data is None:
        return ""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)


@login_required
def changelog(request: HttpRequest) -> HttpResponse:
    """The change log, read-only: city administrators and auditors only, still read through the agency scope.

    htmx requests (the filter form) get just the results table.
    """
    if not request.user.has_capability(Capability.VIEW_CHANGELOG):
        raise PermissionDenied
    rows = ChangeLog.objects.for_agency(request.user).select_related("agency")
    filterset = ChangeLogFilterSet(request.GET, queryset=rows, request=request)
    # An invalid filter (a date typed by hand, an agency out of scope) shows its error and no rows,
    # rather than silently dropping the bad criterion and listing rows the user did not ask for.
    rows = filterset.qs if filterset.is_valid() else rows.none()
    page = Paginator(rows, CHANGELOG_PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page:
        row.before_json = _pretty_json(row.before)
        row.after_json = _pretty_json(row.after)
    # A history restore after a cache miss also comes from htmx but needs the whole page.
    is_htmx = request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in request.headers
    template = "core/partials/_changelog_results.html" if is_htmx else "core/changelog.html"
    response = render(request, template, {"filterset": filterset, "page": page})
    # The same URL answers with a fragment or a whole page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """403 page."""
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """404 page."""
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 page; its template is self-contained so it renders even when the database is down."""
    return render(request, "500.html", status=500)
