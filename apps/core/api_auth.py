"""DRF authentication by read-only API token: ``Authorization: Token <key>`` (as DRF's own TokenAuthentication) or
``Authorization: Bearer <key>``.

Listed first in ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` so that its ``WWW-Authenticate`` challenge makes
DRF answer an anonymous call with 401, not 403.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from apps.core import tokens
from apps.core.models import ApiToken

KEYWORDS = (b"token", b"bearer")


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates a request carrying an API token; a request without one is left to the next class (session).

    Refuses with 401 a malformed header and an unknown, revoked or inactive user's key; refuses with 403 any unsafe
    method (POST, PUT, PATCH, DELETE) made with a valid key: tokens are read-only whatever the endpoint accepts.
    """

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Token <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed API token.") from None
        try:
            token = tokens.api_token_for_key(key)
        except tokens.ApiTokenError as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        if request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("API tokens are read-only: only GET, HEAD and OPTIONS are allowed.")
        tokens.api_token_mark_used(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the token: HTTP bearer, which Swagger UI's "Authorize" button sends as
    ``Authorization: Bearer <key>`` (accepted like ``Token <key>``)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
