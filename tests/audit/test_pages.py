"""The audit page (auditor role and up), the event page, and staff logins recorded by the project's login view."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from tests.conftest import _user

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def auditor_client(db: None) -> Client:
    client = Client()
    client.force_login(_user("audrey", "auditor"))
    return client


def _event(**extra: object) -> AuditEvent:
    values: dict[str, object] = {
        "action": "test.event",
        "target_type": "thing",
        "target_id": "7",
        "target_text": "seven",
    }
    values.update(extra)
    return audit_record(**values)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_viewer_may_not_see_the_audit_log(viewer_client: Client) -> None:
    assert viewer_client.get("/audit/").status_code == 403


@pytest.mark.django_db
def test_an_auditor_sees_the_events_and_the_chain_head(auditor_client: Client) -> None:
    event = _event(reason="because")
    page = auditor_client.get("/audit/").content.decode()
    assert "test.event" in page and "because" in page
    assert f"--anchor {event.seq}:{event.hash}" in page


@pytest.mark.django_db
def test_it_filters_by_action_prefix_actor_and_target(auditor_client: Client, viewer: User) -> None:
    _event(action="sync.started", target_text="mlflow source demo")
    _event(action="promotion.requested", target_text="churn v4 → production", actor=Actor.of(viewer))
    page = auditor_client.get("/audit/", {"action": "promotion."}).content.decode()
    assert "promotion.requested" in page and "mlflow source demo" not in page
    page = auditor_client.get("/audit/", {"actor": "vera"}).content.decode()
    assert "churn v4" in page and "mlflow source demo" not in page
    page = auditor_client.get("/audit/", {"target": "demo"}).content.decode()
    assert "mlflow source demo" in page and "churn v4" not in page


@pytest.mark.django_db
def test_the_page_query_count_does_not_grow_with_events(auditor_client: Client, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    for _ in range(60):
        _event()
    with django_assert_max_num_queries(12):
        assert auditor_client.get("/audit/").status_code == 200


@pytest.mark.django_db
def test_hostile_strings_are_escaped(auditor_client: Client) -> None:
    event = _event(target_text=HOSTILE, reason=HOSTILE, after={"message": HOSTILE})
    for url in ("/audit/", f"/audit/{event.seq}/"):
        page = auditor_client.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert" in page


@pytest.mark.django_db
def test_the_event_page_shows_before_after_and_the_chain(auditor_client: Client) -> None:
    first = _event()
    second = _event(before={"version": 3}, after={"version": 4})
    page = auditor_client.get(f"/audit/{second.seq}/").content.decode()
    assert first.hash in page and second.hash in page and "&quot;version&quot;: 4" in page
    assert auditor_client.get("/audit/999/").status_code == 404


@pytest.mark.django_db
def test_a_staff_login_is_recorded(staff: User) -> None:
    response = Client().post("/login/", {"username": "stan", "password": "pw-stan"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == staff and event.after["address"] == "127.0.0.1"


@pytest.mark.django_db
def test_the_admin_login_page_is_the_same_login(staff: User) -> None:
    Client().post("/admin/login/?next=/admin/", {"username": "stan", "password": "pw-stan"})
    assert AuditEvent.objects.filter(action="auth.login", actor=staff).count() == 1


@pytest.mark.django_db
def test_a_failed_login_on_a_staff_account_is_recorded_and_others_are_not(staff: User, viewer: User) -> None:
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):  # a password-guessing script: recorded once a minute, not once a guess
        Client().post("/login/", {"username": "stan", "password": "wrong"})
    Client().post("/login/", {"username": "vera", "password": "wrong"})
    Client().post("/login/", {"username": "vera", "password": "pw-vera"})
    assert list(AuditEvent.objects.values_list("action", "target_text")) == [("auth.login_failed", "stan")]


@pytest.mark.django_db
def test_every_event_carries_its_request_id(staff: User) -> None:
    response = Client().post("/login/", {"username": "stan", "password": "pw-stan"}, HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    assert AuditEvent.objects.get(action="auth.login").request_id == "req-42"


@pytest.mark.django_db
def test_a_day_that_does_not_exist_filters_nothing(auditor_client: Client) -> None:
    _event()
    assert auditor_client.get("/audit/", {"since": "2026-02-30"}).status_code == 200
