"""OpenAPI description of citygov's token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <key>`` (keys from POST /api/auth/token/)."""

    target_class = "citygov.core.api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Authorization: Token <key>`; get a key from POST /api/auth/token/.",
        }
