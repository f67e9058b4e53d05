"""Serializers of the core API: users, change log, tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from citygov.core.models import ApiToken, ChangeLog
from citygov.core.roles import Role


class UserSerializer(serializers.ModelSerializer):
    """A user account as administrators see it (never the password)."""

    agency_ids = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "email", "phone", "role", "is_active", "agency_ids",
                  "last_login", "date_joined"]
        read_only_fields = ["id", "username", "last_login", "date_joined", "agency_ids"]

    def get_agency_ids(self, user) -> list[int]:
        return sorted(m.agency_id for m in user.memberships.all())


class UserCreateSerializer(serializers.Serializer):
    """Input for a new account; a password is generated when none is given."""

    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    role = serializers.ChoiceField(choices=Role.choices)
    agency_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    display_name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    email = serializers.EmailField(required=False, default="", allow_blank=True)
    password = serializers.CharField(required=False, write_only=True, min_length=12, max_length=128)


class UserCreatedSerializer(UserSerializer):
    """The new account plus its initial password, shown this once."""

    initial_password = serializers.CharField(read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "initial_password"]


class UserUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class ChangeLogSerializer(serializers.ModelSerializer):
    """A change-log row (read-only)."""

    class Meta:
        model = ChangeLog
        fields = ["id", "at", "actor", "actor_name", "action", "object_type", "object_id", "object_repr", "agency",
                  "before", "after", "note", "ip_address"]
        read_only_fields = fields


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="api")
    days = serializers.IntegerField(min_value=1, max_value=365, required=False, default=90)


class TokenIssuedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key: shown once, store it safely.")
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields
