"""The REST API's gate: token or session authentication, 401 JSON for anonymous calls (never the login redirect),
read-only tokens, the permission and paging every endpoint inherits from ``apps.lineage.api.base``, and the docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, include, path, reverse
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import tokens
from apps.core.models import ApiToken
from apps.lineage.api import urls as api_urls
from apps.lineage.api.base import ReadOnlyApiMixin, api_get

pytestmark = pytest.mark.django_db

# Pages for people, behind the site's login redirect; every other API route answers API clients itself.
HTML_PAGES = {"docs", "redoc"}


# --- A probe URLconf: endpoints built from ``base`` the way the lineage endpoints are --------------------------
@api_get("mlflow_sync.view_run")
def probe(request: Request) -> Response:
    return Response({"ok": True})


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["name"]


class GroupList(ReadOnlyApiMixin, generics.ListAPIView):
    queryset = Group.objects.order_by("name")
    serializer_class = GroupSerializer


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("api/", include("apps.lineage.api.urls")),
    path("probe/", probe),
    path("groups/", GroupList.as_view()),
]


# --- helpers ---------------------------------------------------------------------------------------------------
def _token(user: User) -> str:
    return tokens.api_token_create(user=user, name="ci", created_by="test")[1]


def _auth(key: str, keyword: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{keyword} {key}"}


def _api_routes() -> Iterator[tuple[str, URLPattern]]:
    """Every route under /api/, with "1" for each of its parameters (a number, a name and an id alike)."""
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern) and pattern.name, f"extend this walk to reach {pattern}"
        kwargs = dict.fromkeys(pattern.pattern.regex.groupindex, "1")
        yield reverse(f"api:{pattern.name}", kwargs=kwargs), pattern


API_ROUTES = [(route, p) for route, p in _api_routes() if p.name not in HTML_PAGES]


# --- authentication ---------------------------------------------------------------------------------------------
def test_an_anonymous_call_gets_401_json_not_the_login_page() -> None:
    response = Client().get("/api/me/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Token realm="api"'
    assert "credentials were not provided" in response.json()["detail"]


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token"])
def test_a_token_call_gets_json(viewer: User, keyword: str) -> None:
    key = _token(viewer)
    body = Client().get("/api/me/", headers=_auth(key, keyword)).json()
    assert body["username"] == "vera"
    assert body["is_staff"] is False
    assert "mlflow_sync.view_run" in body["permissions"]
    assert body["token"]["prefix"] == key[:8]


def test_a_session_works_too(viewer_client: Client) -> None:
    body = viewer_client.get("/api/me/").json()
    assert (body["username"], body["token"]) == ("vera", None)


@pytest.mark.parametrize(
    "header", ["Token", "Token not-a-key", "Token a b", "Bearer " + "x" * 43, "Token ünïcode"], ids=str
)
def test_a_bad_token_gets_401(viewer_client: Client, header: str) -> None:
    # Even with a valid session alongside: a presented token is judged on its own.
    response = viewer_client.get("/api/me/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_revoked_token_gets_401(viewer: User) -> None:
    key = _token(viewer)
    tokens.api_token_revoke(token=ApiToken.objects.get(), by="stan")
    response = Client().get("/api/me/", headers=_auth(key))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, revoked or inactive API token."


def test_an_inactive_users_token_gets_401(viewer: User) -> None:
    key = _token(viewer)
    viewer.is_active = False
    viewer.save()
    assert Client().get("/api/me/", headers=_auth(key)).status_code == 401


def test_last_use_is_written_at_most_once_a_minute(viewer: User) -> None:
    key = _token(viewer)
    Client().get("/api/me/", headers=_auth(key))
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/api/me/", headers=_auth(key)).status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    Client().get("/api/me/", headers=_auth(key))
    assert ApiToken.objects.get().last_used_at > first  # type: ignore[operator]


# --- every API route --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("route", "pattern"), API_ROUTES, ids=[r for r, _ in API_ROUTES])
def test_every_api_route_answers_anonymous_calls_with_401(route: str, pattern: URLPattern) -> None:
    response = Client().get(route)
    assert response.status_code == 401, response
    assert "credentials were not provided" in response.json()["detail"]


@pytest.mark.parametrize(("route", "pattern"), API_ROUTES, ids=[r for r, _ in API_ROUTES])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_token_can_never_write(viewer: User, route: str, pattern: URLPattern, method: str) -> None:
    key = _token(viewer)
    response = getattr(Client(), method)(route, {}, content_type="application/json", headers=_auth(key))
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_a_session_post_needs_csrf(viewer: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    response = client.post("/api/me/", {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- what endpoints inherit from base.py ----------------------------------------------------------------------
@pytest.mark.urls(__name__)
def test_an_endpoint_requires_its_permissions(viewer: User, nobody: User) -> None:
    assert Client().get("/probe/", headers=_auth(_token(viewer))).json() == {"ok": True}
    response = Client().get("/probe/", headers=_auth(_token(nobody)))
    assert response.status_code == 403
    assert Client().get("/probe/").status_code == 401


@pytest.mark.urls(__name__)
def test_lists_page_50_by_default_and_500_at_most(viewer: User) -> None:
    Group.objects.bulk_create(Group(name=f"g{i:04}") for i in range(600))
    key = _token(viewer)
    default = Client().get("/groups/", headers=_auth(key)).json()
    assert (default["count"], len(default["results"])) == (603, 50)
    assert "offset=50" in default["next"]
    assert len(Client().get("/groups/?limit=1000", headers=_auth(key)).json()["results"]) == 500


# --- schema and docs --------------------------------------------------------------------------------------------
def test_the_schema_is_an_openapi_document(viewer: User) -> None:
    response = Client().get("/api/schema/", headers=_auth(_token(viewer)))
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Lineage dashboard API"
    assert "/api/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {"type": "http", "scheme": "bearer"}


@pytest.mark.parametrize(("url", "asset"), [("/api/docs/", "swagger-ui-bundle.js"), ("/api/redoc/", "redoc")])
def test_the_docs_use_our_own_static_assets(staff_client: Client, url: str, asset: str) -> None:
    response = staff_client.get(url)
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    local = [s for s in sources if s.startswith("/static/drf_spectacular_sidecar/") and asset in s]
    assert local
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert staff_client.get(local[0]).status_code == 200


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_send_anonymous_people_to_the_login_page(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"
