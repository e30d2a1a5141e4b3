"""Executing promotions against a real `mlflow server`: written once, confirmed by a re-read, the mirror brought up
to date in the same transaction (so the next sync observes nothing), conflicts refused and kept on record."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.mlflow_sync import client as mlflow_client
from apps.mlflow_sync.models import RegistryChange
from apps.promotions.models import Promotion
from apps.promotions.services import promotion_execute, promotion_request, promotion_sweep
from tests.conftest import MlflowStore
from tests.promotions.conftest import Registry, Server, make_registry


def _request(registry: Registry, user: User, version: int = 3, target: str = "production", **extra: str) -> Promotion:
    return promotion_request(
        version=registry.version(version), target=target, reason="better AUC on the holdout", actor=Actor.of(user),
        **extra,
    )  # fmt: skip


def _actions(promotion: Promotion) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="promotion", target_id=str(promotion.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every alias write that reaches MLflow's client (the real call is made)."""
    seen: list[tuple[str, int]] = []
    real = mlflow_client.registry_set_alias

    def counting(client, uri, name, alias, version):  # type: ignore[no-untyped-def]
        seen.append((alias, version))
        return real(client, uri, name, alias, version)

    monkeypatch.setattr(mlflow_client, "registry_set_alias", counting)
    return seen


@pytest.mark.django_db
def test_a_promotion_is_written_confirmed_and_mirrored(registry: Registry, approver: User) -> None:
    promotion = _request(registry, approver)
    assert promotion.status == "pending" and promotion.expected_alias_version == 1
    assert promotion.stage == "Production" and promotion.expected_stage_versions == [1]
    assert registry.version(3).aliases == []  # nothing is shown as promoted before MLflow confirms it
    done = promotion_execute(promotion.pk)
    assert done.status == "confirmed", done.outcome
    assert registry.alias("production") == 3
    assert (registry.stage(3), registry.stage(1)) == ("Production", "Archived")
    assert registry.version(3).aliases == ["production"] and registry.version(3).stage == "Production"
    assert registry.version(1).stage == "Archived" and registry.model.aliases["production"] == 3
    assert _actions(promotion) == ["promotion.requested", "promotion.executing", "promotion.confirmed"]
    promoted = set(RegistryChange.objects.filter(kind="promoted").values_list("field", "version", "after"))
    assert promoted == {("alias", 3, "3"), ("stage", 3, "Production"), ("stage", 1, "Archived")}


@pytest.mark.django_db
def test_the_next_sync_does_not_take_the_promotion_for_an_outside_change(registry: Registry, approver: User) -> None:
    promotion_execute(_request(registry, approver).pk)
    before = AuditEvent.objects.filter(action="registry.observed").count()
    registry.sync()
    assert AuditEvent.objects.filter(action="registry.observed").count() == before


@pytest.mark.django_db
def test_a_confirmation_is_mailed_to_the_approvers_and_the_requester(
    registry: Registry, approver: User, second_approver: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    promotion = _request(registry, approver)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        promotion_execute(promotion.pk)
    confirmed = [m for m in mail.outbox if m.subject.startswith("Confirmed by MLflow")]
    assert sorted(to for m in confirmed for to in m.to) == ["abby@example.com", "otto@example.com"]
    assert "better AUC" in confirmed[0].body and f"/promotions/{promotion.pk}/" in confirmed[0].body


@pytest.mark.django_db
def test_an_alias_moved_in_mlflow_meanwhile_is_a_conflict_and_observed(registry: Registry, approver: User) -> None:
    promotion = _request(registry, approver)
    registry.client.set_registered_model_alias(registry.name, "production", "2")  # someone, directly in MLflow
    done = promotion_execute(promotion.pk)
    assert done.status == "conflict"
    assert "MLflow shows @production on v2, but the request expected v1" in done.outcome
    assert registry.alias("production") == 2  # the dashboard wrote nothing
    registry.sync()
    observed = AuditEvent.objects.filter(action="registry.observed", target_text=registry.name)
    assert [e.after["change"] for e in observed] == ["@production: v1 → v2"]


@pytest.mark.django_db
def test_the_same_idempotency_key_replayed_writes_once(registry: Registry, approver: User, writes: list) -> None:
    first = _request(registry, approver, idempotency_key="key-1")
    again = _request(registry, approver, idempotency_key="key-1")
    assert again.pk == first.pk and Promotion.objects.count() == 1
    promotion_execute(first.pk)
    promotion_execute(again.pk)
    assert writes == [("production", 3)]


@pytest.mark.django_db(transaction=True)
def test_two_promotions_to_production_at_once_one_confirmed_one_conflict(
    registry_server: Server, mlflow_template: MlflowStore, approver: User, writes: list, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PROMOTION_SLOT_WAIT_SECONDS = 0  # the one that finds the slot taken is due again at once
    registry = make_registry(registry_server, mlflow_template)
    results: list[Promotion | BaseException] = []

    def promote(version: int) -> None:
        try:
            promotion = _request(registry, approver, version=version)
            results.append(promotion_execute(promotion.pk) or promotion)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, BaseException)], results
    for _ in range(5):  # the one that found the slot taken (if either did) runs now
        promotion_sweep(run=True)
    statuses = sorted(Promotion.objects.values_list("status", flat=True))
    assert statuses == ["confirmed", "conflict"]
    winner = Promotion.objects.get(status="confirmed")
    assert writes == [("production", winner.version)] and registry.alias("production") == winner.version
    registry.client.delete_registered_model(registry.name)


@pytest.mark.django_db
def test_without_redis_the_embedded_scheduler_writes_it(registry: Registry, approver: User) -> None:
    import io

    from django.core.management import call_command

    promotion = _request(registry, approver)
    out = io.StringIO()
    call_command("run_scheduler", "--once", "--poll", "0", stdout=out)
    assert "queued syncs and promotions polled" in out.getvalue() and "sweep-promotions" not in out.getvalue()
    promotion.refresh_from_db()
    assert promotion.status == "confirmed" and registry.alias("production") == 3
    assert AuditEvent.objects.get(action="promotion.confirmed", target_id=str(promotion.pk)).actor_name == "scheduler"
