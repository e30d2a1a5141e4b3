"""With Redis, a real Celery worker writes the promotion to MLflow: the web request only queues it."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from apps.promotions.models import Promotion
from tests.conftest import MlflowStore, _user
from tests.core.test_tasks import celery_worker  # noqa: F401 - the fixture
from tests.promotions.conftest import Server, client_for, make_registry

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="runs with REDIS_URL (the PostgreSQL + Redis CI leg)")


@needs_redis
@pytest.mark.worker
def test_a_promotion_requested_on_the_page_is_written_by_the_worker(
    celery_worker: None,  # noqa: F811
    registry_server: Server,
    mlflow_template: MlflowStore,
) -> None:
    registry = make_registry(registry_server, mlflow_template)
    approver: User = _user("abby", "approver")
    client = client_for(approver)
    data = {"version": registry.version(3).pk, "target": "production", "reason": "ready", "idempotency_key": "w1"}
    assert client.post("/promotions/new/", data).status_code == 302
    promotion = Promotion.objects.get()
    deadline = time.monotonic() + 120
    while promotion.status in ("pending", "executing") and time.monotonic() < deadline:
        time.sleep(0.5)
        promotion.refresh_from_db()
    assert promotion.status == "confirmed", (promotion.status, promotion.outcome, promotion.last_error)
    assert registry.alias("production") == 3
    registry.client.delete_registered_model(registry.name)
