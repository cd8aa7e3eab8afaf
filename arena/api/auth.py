"""How API requests authenticate: a script's token or the browser's session."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import SessionAuthentication as DrfSessionAuthentication


class TokenAuthentication(KnoxTokenAuthentication):
    """``Authorization: Token arena_…``: the token's digest is looked up; an expired
    token or a suspended user is refused (401)."""


class SessionAuthentication(DrfSessionAuthentication):
    """The browser's session cookie; unsafe methods need the CSRF token.

    It names a scheme in ``WWW-Authenticate`` so an anonymous request gets a 401 (log
    in) rather than a 403 (forbidden).
    """

    def authenticate_header(self, request) -> str:
        return 'Session realm="api"'


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "arena.api.auth.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token arena_…`, from `POST /api/auth/token/` or `POST /api/auth/tokens/`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "arena.api.auth.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "The browser's session (`POST /api/auth/login/`); unsafe methods also need "
                               "the `X-CSRFToken` header."}
