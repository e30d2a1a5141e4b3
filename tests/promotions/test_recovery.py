"""MLflow unreachable: a promotion stays pending (nothing shown as promoted), is retried with backoff, and is
confirmed once MLflow answers again, also when the server stopped half-way through the write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.mlflow_sync import client as mlflow_client
from apps.promotions.models import Promotion
from apps.promotions.services import promotion_execute, promotion_request, promotion_sweep
from tests.conftest import MlflowStore
from tests.promotions.conftest import Registry, Server, client_for, make_registry


def _receipt(client: Client, registry: Registry) -> dict:
    response = client.get(f"/api/models/{registry.name}/aliases/production")
    assert response.status_code == 200
    return response.json()


def _due_now(promotion: Promotion) -> None:
    Promotion.objects.filter(pk=promotion.pk).update(next_attempt_at=timezone.now())


@pytest.mark.django_db
def test_the_server_stopped_in_the_middle_then_started_again(
    own_server: Server, mlflow_template: MlflowStore, approver: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = make_registry(own_server, mlflow_template)
    real = mlflow_client.registry_set_alias

    def write_then_stop(client, uri, name, alias, version):  # type: ignore[no-untyped-def]
        real(client, uri, name, alias, version)  # the alias lands in MLflow…
        own_server.stop()  # …and the server goes down before the stage move and the confirming read

    monkeypatch.setattr(mlflow_client, "registry_set_alias", write_then_stop)
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    after_stop = promotion_execute(promotion.pk)
    assert after_stop.status == "pending" and after_stop.write_started_at is not None
    assert "Cannot reach the MLflow server" in after_stop.last_error and after_stop.next_attempt_at > timezone.now()
    # Nothing false in between: the mirror, the pages and the API still show v1 in production.
    viewer = client_for(approver)
    assert _receipt(viewer, registry)["version"] == 1
    assert registry.version(3).aliases == [] and registry.model.aliases["production"] == 1
    page = viewer.get(f"/promotions/{promotion.pk}/").content.decode()
    assert "Not in MLflow yet" in page
    monkeypatch.setattr(mlflow_client, "registry_set_alias", real)
    own_server.start()
    _due_now(promotion)
    promotion_sweep(run=True)
    promotion.refresh_from_db()
    assert promotion.status == "confirmed", promotion.outcome
    assert registry.alias("production") == 3 and registry.stage(3) == "Production"
    assert _receipt(viewer, registry)["version"] == 3
    actions = list(
        AuditEvent.objects.filter(target_type="promotion", target_id=str(promotion.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "promotion.requested", "promotion.executing", "promotion.retry", "promotion.executing", "promotion.confirmed",
    ]  # fmt: skip


@pytest.mark.django_db
def test_mlflow_down_from_the_start_backs_off_and_recovers(
    own_server: Server, mlflow_template: MlflowStore, approver: User
) -> None:
    registry = make_registry(own_server, mlflow_template)
    own_server.stop()
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    first = promotion_execute(promotion.pk)
    assert first.status == "pending" and first.write_started_at is None and first.attempts == 1
    assert promotion_execute(promotion.pk).attempts == 1  # not due yet: nothing is tried
    _due_now(promotion)
    second = promotion_execute(promotion.pk)
    assert second.attempts == 2
    assert second.next_attempt_at - timezone.now() > timedelta(seconds=6)  # 5 s, then 10 s
    own_server.start()
    _due_now(promotion)
    assert promotion_execute(promotion.pk).status == "confirmed"


@pytest.mark.django_db
def test_an_execution_that_died_is_released_and_done_again(registry: Registry, approver: User) -> None:
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    # A worker claimed it and died: the row says executing, with a claim far in the past.
    Promotion.objects.filter(pk=promotion.pk).update(
        status="executing", claimed_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    promotion_sweep(run=True)
    promotion.refresh_from_db()
    assert promotion.status == "confirmed" and registry.alias("production") == 3


@pytest.mark.django_db
def test_a_sync_during_a_write_leaves_the_model_alone(registry: Registry, approver: User) -> None:
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    Promotion.objects.filter(pk=promotion.pk).update(status="executing", claimed_at=timezone.now())
    registry.client.set_registered_model_alias(registry.name, "production", "3")  # as if the write just landed
    registry.sync()
    assert registry.model.aliases["production"] == 1  # not taken from MLflow while the promotion is in flight
    assert not AuditEvent.objects.filter(action="registry.observed", target_text=registry.name).exists()
    Promotion.objects.filter(pk=promotion.pk).update(status="pending", claimed_at=None, write_started_at=timezone.now())
    promotion_sweep(run=True)
    promotion.refresh_from_db()
    assert promotion.status == "confirmed"
    registry.sync()
    assert not AuditEvent.objects.filter(action="registry.observed", target_text=registry.name).exists()
    assert registry.model.aliases["production"] == 3


@pytest.mark.django_db
def test_a_promotion_mlflow_never_answered_for_is_given_up(registry: Registry, approver: User, settings) -> None:  # type: ignore[no-untyped-def]
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    Promotion.objects.filter(pk=promotion.pk).update(
        requested_at=timezone.now() - timedelta(hours=settings.PROMOTION_PENDING_MAX_HOURS + 1),
        attempts=9, last_error="Cannot reach the MLflow server", next_attempt_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    promotion_sweep(run=True)
    promotion.refresh_from_db()
    assert promotion.status == "failed" and "could not be reached for 24 hours" in promotion.outcome
    assert registry.alias("production") == 1


def test_the_sweeper_runs_on_celery_beat_too(settings) -> None:  # type: ignore[no-untyped-def]
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "apps.promotions.tasks.sweep_promotions" in tasks


@pytest.mark.django_db
def test_an_execution_released_by_the_sweeper_never_writes(
    registry: Registry, approver: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.mlflow_sync import services as mlflow_services

    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    real_read = mlflow_services.RegistrySession.read
    writes: list[int] = []
    monkeypatch.setattr(mlflow_client, "registry_set_alias", lambda *args: writes.append(1))

    def slow_read(self, name):  # type: ignore[no-untyped-def]
        # While this execution waits on MLflow, the sweeper takes it for dead and releases it.
        Promotion.objects.filter(pk=promotion.pk).update(status="pending", claimed_at=None)
        return real_read(self, name)

    monkeypatch.setattr(mlflow_services.RegistrySession, "read", slow_read)
    after = promotion_execute(promotion.pk)
    assert writes == [] and after.status == "pending" and registry.alias("production") == 1


@pytest.mark.django_db
def test_a_write_that_landed_before_a_refusal_is_recorded_as_promoted(
    registry: Registry, approver: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.mlflow_sync.client import RegistryRefused

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RegistryRefused("MLflow refused the stage transition (this registry no longer allows stages).")

    monkeypatch.setattr(mlflow_client, "registry_set_stage", refuse)
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    done = promotion_execute(promotion.pk)
    assert done.status == "failed" and "Part of it reached MLflow (@production on v3)" in done.outcome
    assert registry.alias("production") == 3 and registry.model.aliases["production"] == 3
    registry.sync()  # the alias that landed is the dashboard's own write, not an outside change
    assert not AuditEvent.objects.filter(action="registry.observed", target_text=registry.name).exists()


@pytest.mark.django_db
def test_a_rollback_in_mlflow_after_a_promotion_is_observed(registry: Registry, approver: User) -> None:
    promotion = promotion_request(
        version=registry.version(3), target="production", reason="r", actor=Actor.of(approver)
    )
    assert promotion_execute(promotion.pk).status == "confirmed"
    # Someone puts MLflow back exactly as it was before, so it reads as it did at the last sync.
    registry.client.set_registered_model_alias(registry.name, "production", "1")
    registry.client.transition_model_version_stage(registry.name, "1", "Production")
    registry.client.transition_model_version_stage(registry.name, "3", "None")
    registry.sync()
    assert registry.model.aliases["production"] == 1
    changes = [
        e.after["change"] for e in AuditEvent.objects.filter(action="registry.observed", target_text=registry.name)
    ]
    assert "@production: v3 → v1" in changes
