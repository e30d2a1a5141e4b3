"""``GET /api/models/<name>/aliases/<alias>?at=<ISO time>``: which version held an alias at a moment, after
observed changes and promotions; the model page answers the same question."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User

from apps.audit.context import Actor
from apps.mlflow_sync.models import MlflowSource
from apps.promotions.services import promotion_execute, promotion_request
from tests.promotions.conftest import Registry, client_for


def _at(registry: Registry, user: User, when: str) -> tuple[int, dict]:
    response = client_for(user).get(f"/api/models/{registry.name}/aliases/production?at={when}")
    return response.status_code, response.json()


@pytest.fixture
def promoted(registry: Registry, approver: User) -> Registry:
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    assert promotion_execute(promotion.pk).status == "confirmed"
    return registry


@pytest.mark.django_db
def test_before_the_first_sync_the_version_is_unknown(promoted: Registry, viewer: User) -> None:
    baseline = MlflowSource.objects.get(pk=promoted.source.pk).registry_baseline_at
    status, body = _at(promoted, viewer, quote((baseline - timedelta(days=30)).isoformat()))
    assert status == 200 and body["version"] is None
    assert body["known_since"].replace("Z", "+00:00") == baseline.isoformat()


@pytest.mark.django_db
def test_it_names_the_holder_before_and_after_the_promotion(promoted: Registry, viewer: User) -> None:
    confirmed = promoted.model.registry_changes.get(kind="promoted", field="alias")
    before = confirmed.not_before - timedelta(microseconds=1)
    status, body = _at(promoted, viewer, before.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert status == 200 and body["version"] == 1 and body["how"] == "baseline"
    status, body = _at(promoted, viewer, quote((confirmed.at + timedelta(seconds=1)).astimezone().isoformat()))
    assert status == 200 and body["version"] == 3 and body["how"] == "promoted" and body["verdict"] == "gaps"
    assert body["lineage_url"].endswith(f"/lineage/models/{promoted.name}/versions/3/")


@pytest.mark.django_db
def test_a_moment_inside_the_write_is_flagged_uncertain(promoted: Registry, viewer: User) -> None:
    confirmed = promoted.model.registry_changes.get(kind="promoted", field="alias")
    inside = confirmed.not_before + (confirmed.at - confirmed.not_before) / 2
    _, body = _at(promoted, viewer, quote(inside.isoformat()))
    assert body["version"] == 1 and [u["version"] for u in body["uncertain"]] == [3]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "when, message",
    [("2026-12-01T10:00:00", "has no time zone"), ("yesterday", "is not an ISO-8601 time"),
     ("2026-12-01T10:00:00+01:00", "write the offset as %2B01:00")],
)  # fmt: skip
def test_a_naive_or_unreadable_time_is_a_400(registry: Registry, viewer: User, when: str, message: str) -> None:
    status, body = _at(registry, viewer, when)
    assert status == 400 and message in body["detail"]


@pytest.mark.django_db
def test_the_model_page_answers_which_version_held_production(promoted: Registry, viewer: User) -> None:
    confirmed = promoted.model.registry_changes.get(kind="promoted", field="alias")
    moment = (confirmed.not_before - timedelta(microseconds=1)).isoformat()
    page = (
        client_for(viewer)
        .get(f"/mlflow/models/{promoted.model.pk}/", {"slot": "alias:production", "at": moment})
        .content.decode()
    )
    assert "was held by <strong>version 1</strong>" in page
    assert f"/lineage/versions/{promoted.version(1).pk}/summary/" in page  # what that version was trained on
    assert "promoted here" in page and "r" in page
