"""What every REST endpoint uses, so that none can forget it:

- DRF authentication (API token or session; an anonymous call gets 401 JSON). DRF's own ``as_view`` exempts its views
  from ``LoginRequiredMiddleware``, which would answer an API client with a 302 to the login page;
  ``tests/lineage/test_api_auth.py`` checks that every route under /api/ stays so;
- GET only (an API token is refused any unsafe method anyway, in ``apps.core.api_auth``);
- the Django permissions a page of the same data requires, e.g. ``mlflow_sync.view_run`` (viewer role and up).

A class-based endpoint::

    class ModelVersionList(ReadOnlyApiMixin, generics.ListAPIView):
        required_permissions = ("mlflow_sync.view_modelversion",)

A function-based one::

    @extend_schema(responses=ModelVersionSerializer)
    @api_get("mlflow_sync.view_modelversion")
    def model_version(request: Request, name: str, version: int) -> Response: ...

List endpoints page with ``?limit=`` (default 50, at most 500) and ``?offset=``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from rest_framework.decorators import api_view
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

READ_METHODS = ["get", "head", "options"]
# The documentation pages load only what we serve: Redoc's bundle would otherwise fetch its logo from its vendor's
# CDN. Inline script and style are the pages' own (drf-spectacular's templates); blob: is Redoc's web worker.
DOCS_CSP = "default-src 'self' 'unsafe-inline' data: blob:"


class ApiPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class HasRequiredPermissions(BasePermission):
    """Grants access when the user holds every permission in the view's ``required_permissions`` (none: any
    authenticated user)."""

    message = "You do not have permission to see this."

    def has_permission(self, request: Request, view: Any) -> bool:
        required = getattr(view, "required_permissions", ())
        return bool(request.user and request.user.is_authenticated and request.user.has_perms(required))


class ReadOnlyApiMixin:
    """Put first in the bases of every API view class (before ``APIView`` or a DRF generic view)."""

    permission_classes = [IsAuthenticated, HasRequiredPermissions]
    required_permissions: tuple[str, ...] = ()
    http_method_names = READ_METHODS


class ApiView(ReadOnlyApiMixin, APIView):
    """A read-only endpoint: define ``get`` and, where needed, ``required_permissions``."""


def api_get(*required_permissions: str) -> Callable[[Callable[..., Response]], Callable[..., Any]]:
    """Make a function a read-only endpoint (GET, HEAD, OPTIONS) requiring ``required_permissions``."""

    def decorate(func: Callable[..., Response]) -> Callable[..., Any]:
        func.permission_classes = [IsAuthenticated, HasRequiredPermissions]  # type: ignore[attr-defined]
        view = api_view(["GET"])(func)
        view.cls.required_permissions = required_permissions  # type: ignore[attr-defined]
        return view

    return decorate


def docs_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Serve a documentation page under ``DOCS_CSP``, so a browser fetches nothing from another host."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response

    return wrapped
