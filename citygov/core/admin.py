"""Django admin for city administrators; every change it makes is written to the change log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from citygov.core.changelog import client_ip, record_change, snapshot
from citygov.core.models import ApiToken, ChangeAction, ChangeLog, User
from citygov.core.roles import Role


def _city_admin_only(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_authenticated and (user.is_superuser or user.role == Role.CITY_ADMIN))


# Only city administrators reach the admin at all (is_staff alone is not enough).
admin.site.has_permission = _city_admin_only


class ChangeLoggedAdmin(admin.ModelAdmin):
    """Record admin saves and deletes in the change log, like the services do."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
            super().save_model(request, obj, form, change)
            record_change(actor=request.user, action=ChangeAction.UPDATE if change else ChangeAction.CREATE,
                          obj=obj, before=before, after=snapshot(obj), note="admin",
                          ip_address=client_ip(request))

    def delete_model(self, request, obj):
        with transaction.atomic():
            record_change(actor=request.user, action=ChangeAction.DELETE, obj=obj, before=snapshot(obj),
                          note="admin", ip_address=client_ip(request))
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(User)
class UserAdmin(ChangeLoggedAdmin, DjangoUserAdmin):
    """User accounts with their role."""

    list_display = ["username", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    fieldsets = [*DjangoUserAdmin.fieldsets, (_("citygov"), {"fields": ["role", "display_name", "phone"]})]


@admin.register(ChangeLog)
class ChangeLogAdmin(admin.ModelAdmin):
    """The change log: visible, never editable."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "agency"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "note"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens (only hashes are stored; revoke through the API)."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "prefix", "key_hash", "created_at", "expires_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        return False
