"""API permission: signed in, and the role grants the view's capability (read or write)."""

from __future__ import annotations

from rest_framework import permissions


class RolePermission(permissions.BasePermission):
    """Views declare ``read_capability`` and ``write_capability``; read-only roles never write.

    A view without declared capabilities needs only an active signed-in user.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_active:
            return False
        if request.method in permissions.SAFE_METHODS:
            capability = getattr(view, "read_capability", None)
        else:
            if user.is_read_only:
                return False
            capability = getattr(view, "write_capability", None) or getattr(view, "read_capability", None)
        return capability is None or user.has_capability(capability)


class PublicEndpoint(permissions.BasePermission):
    """For the few public endpoints (the rate limit is what protects them)."""

    def has_permission(self, request, view) -> bool:
        return True
