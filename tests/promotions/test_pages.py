"""Each role against each promotion endpoint, CSRF on every POST, and what the pages show (nothing as promoted
before MLflow confirms it; hostile strings escaped)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.promotions.models import Promotion, PromotionPolicy
from apps.promotions.services import promotion_execute, promotion_request
from tests.conftest import _user
from tests.promotions.conftest import Registry, client_for

ROLES = ("anonymous", "nobody", "viewer", "auditor", "staff", "approver")
# What each role gets from each endpoint: 302 login for anonymous; the status code otherwise.
EXPECTED = {
    "list": {"nobody": 403, "viewer": 200, "auditor": 200, "staff": 200, "approver": 200},
    "panel": {"nobody": 403, "viewer": 200, "auditor": 200, "staff": 200, "approver": 200},
    "detail": {"nobody": 403, "viewer": 200, "auditor": 200, "staff": 200, "approver": 200},
    "review": {"nobody": 403, "viewer": 403, "auditor": 403, "staff": 403, "approver": 200},
    "request": {"nobody": 403, "viewer": 403, "auditor": 403, "staff": 403, "approver": 302},
    "approve": {"nobody": 403, "viewer": 403, "auditor": 403, "staff": 403, "approver": 302},
    "reject": {"nobody": 403, "viewer": 403, "auditor": 403, "staff": 403, "approver": 302},
    "cancel": {"nobody": 403, "viewer": 403, "auditor": 403, "staff": 403, "approver": 302},
}


def _client(role: str) -> Client:
    if role == "anonymous":
        return Client()
    groups = {"nobody": None, "viewer": "viewer", "auditor": "auditor", "staff": "viewer", "approver": "approver"}
    user = _user(f"u-{role}", groups[role], is_staff=role == "staff")
    return client_for(user)


def _call(client: Client, endpoint: str, registry: Registry, promotion: Promotion) -> int:
    version = registry.version(3)
    if endpoint == "list":
        return client.get("/promotions/").status_code
    if endpoint == "panel":
        return client.get(f"/promotions/panel/{version.pk}/").status_code
    if endpoint == "detail":
        return client.get(f"/promotions/{promotion.pk}/").status_code
    if endpoint == "review":
        return client.get("/promotions/new/", {"version": version.pk, "target": "staging"}).status_code
    if endpoint == "request":
        data = {"version": version.pk, "target": "staging", "reason": "ready", "idempotency_key": "k"}
        return client.post("/promotions/new/", data).status_code
    note = {"note": "not yet"} if endpoint == "reject" else {}
    return client.post(f"/promotions/{promotion.pk}/{endpoint}/", note).status_code


@pytest.fixture
def awaiting(registry: Registry, second_approver: User) -> Promotion:
    """A production request by another approver, waiting for a second one."""
    PromotionPolicy.objects.create(model=registry.model, target="production", four_eyes=True)
    return promotion_request(
        version=registry.version(3), target="production", reason="ready", actor=Actor.of(second_approver)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(EXPECTED))
def test_each_role_against_each_endpoint(role: str, endpoint: str, registry: Registry, awaiting: Promotion) -> None:
    status = _call(_client(role), endpoint, registry, awaiting)
    if role == "anonymous":
        assert status == 302
        return
    assert status == EXPECTED[endpoint][role]
    denied = AuditEvent.objects.filter(action="promotion.denied").count()
    refused_post = endpoint in ("request", "approve", "reject", "cancel") and status == 403
    assert denied == (1 if refused_post and role != "nobody" else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["request", "approve", "reject", "cancel"])
def test_every_post_needs_the_csrf_token(
    endpoint: str, registry: Registry, awaiting: Promotion, approver: User
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)
    assert _call(client, endpoint, registry, awaiting) == 403
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval" and Promotion.objects.count() == 1


@pytest.mark.django_db
def test_the_review_page_shows_the_change_and_the_gates(registry: Registry, approver: User) -> None:
    PromotionPolicy.objects.create(
        model=registry.model, target="production", metric_gates=[{"metric": "auc", "op": ">=", "value": 0.99}]
    )
    page = client_for(approver).get("/promotions/new/", {"version": registry.version(3).pk, "target": "production"})
    text = page.content.decode()
    assert "v1 → <strong>v3</strong>" in text and "v1 move" in text and "Archived" in text
    assert "auc &gt;= 0.99" in text and "✗ failed" in text and "The gates refuse this promotion now" in text
    assert 'name="reason"' not in text  # nothing to confirm while a gate refuses


@pytest.mark.django_db
def test_a_request_through_the_page_is_pending_until_mlflow_confirms(registry: Registry, approver: User) -> None:
    client = client_for(approver)
    version = registry.version(3)
    response = client.post(
        "/promotions/new/", {"version": version.pk, "target": "production", "reason": "ready", "idempotency_key": "x"}
    )
    promotion = Promotion.objects.get()
    assert response["Location"] == f"/promotions/{promotion.pk}/"
    panel = client.get(f"/promotions/panel/{version.pk}/").content.decode()
    assert "… pending" in panel and "Promote v3 to Production" in panel
    page = client.get(f"/lineage/models/{registry.name}/versions/3/").content.decode()
    assert "@production" not in page.split("mv-badges")[1].split("</div>")[0]  # not shown as promoted yet
    promotion_execute(promotion.pk)
    page = client.get(f"/lineage/models/{registry.name}/versions/3/").content.decode()
    assert "@production" in page.split("mv-badges")[1].split("</div>")[0]
    assert "✓ confirmed" in client.get(f"/promotions/panel/{version.pk}/").content.decode()


@pytest.mark.django_db
def test_a_double_submit_makes_one_promotion(registry: Registry, approver: User) -> None:
    client = client_for(approver)
    data = {"version": registry.version(3).pk, "target": "production", "reason": "ready", "idempotency_key": "same"}
    first, second = client.post("/promotions/new/", data), client.post("/promotions/new/", data)
    assert first["Location"] == second["Location"] and Promotion.objects.count() == 1


@pytest.mark.django_db
def test_a_missing_reason_is_told_and_nothing_is_made(registry: Registry, approver: User) -> None:
    client = client_for(approver)
    response = client.post(
        "/promotions/new/", {"version": registry.version(3).pk, "target": "production", "reason": ""}, follow=True
    )
    assert "A reason is required" in response.content.decode() and not Promotion.objects.exists()


@pytest.mark.django_db
def test_hostile_reasons_are_escaped(registry: Registry, approver: User) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    promotion = promotion_request(
        version=registry.version(3), target="production", reason=hostile, actor=Actor.of(approver)
    )
    client = client_for(approver)
    for url in (f"/promotions/{promotion.pk}/", "/promotions/", f"/promotions/panel/{registry.version(3).pk}/"):
        text = client.get(url).content.decode()
        assert "<script>alert" not in text and "<img src=x" not in text and "&lt;script&gt;" in text


@pytest.mark.django_db
def test_the_panel_query_count_does_not_grow_with_promotions(
    registry: Registry, approver: User, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    for n in range(8):
        Promotion.objects.create(
            model=registry.model, model_version=registry.version(3), version=3, target="staging", status="conflict",
            reason=f"try {n}", idempotency_key=f"k{n}", requested_by_name="abby",
        )  # fmt: skip
    client = client_for(approver)
    with django_assert_max_num_queries(25):
        assert client.get(f"/promotions/panel/{registry.version(3).pk}/").status_code == 200
