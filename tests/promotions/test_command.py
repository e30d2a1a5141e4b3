"""``manage.py promote``: one service with the pages; it waits for the outcome and exits 0 confirmed, 2 conflict,
3 refused by a gate or permission, 4 still pending, 1 failed."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.context import os_user
from apps.audit.models import AuditEvent
from apps.promotions.models import Promotion, PromotionPolicy
from tests.conftest import MlflowStore
from tests.promotions.conftest import Registry, Server, make_registry


def _promote(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("promote", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_it_exits_0_when_mlflow_confirms_and_records_the_os_user(registry: Registry) -> None:
    code, out, _ = _promote(registry.name, "3", "production", "--reason", "release 2026-12")
    assert code == 0 and "Confirmed: MLflow confirms Production" in out
    assert registry.alias("production") == 3
    promotion = Promotion.objects.get()
    assert promotion.requested_by is None and promotion.requested_by_name == f"cli:{os_user()}"
    assert AuditEvent.objects.get(action="promotion.requested").actor_name == f"cli:{os_user()}"


@pytest.mark.django_db
def test_it_exits_3_when_a_gate_refuses(registry: Registry) -> None:
    PromotionPolicy.objects.create(
        model=registry.model, target="production", metric_gates=[{"metric": "auc", "op": ">=", "value": 2}]
    )
    code, out, _ = _promote(registry.name, "3", "production", "--reason", "r")
    assert code == 3 and "gate auc >= 2: failed" in out
    assert registry.alias("production") == 1


@pytest.mark.django_db
def test_it_exits_3_when_the_user_may_not_promote(registry: Registry, viewer: User) -> None:
    code, _, err = _promote(registry.name, "3", "production", "--reason", "r", "--user", viewer.username)
    assert code == 3 and "no permission" in err
    assert AuditEvent.objects.get(action="promotion.denied").actor == viewer


@pytest.mark.django_db
def test_it_exits_2_on_a_conflict(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.mlflow_sync import services as mlflow_services

    real = mlflow_services.RegistrySession.read
    # Someone moves the alias in MLflow between the request and the worker's re-read.
    moved: list[bool] = []

    def read(self, name):  # type: ignore[no-untyped-def]
        if not moved:
            moved.append(True)
            registry.client.set_registered_model_alias(registry.name, "production", "2")
        return real(self, name)

    monkeypatch.setattr(mlflow_services.RegistrySession, "read", read)
    code, _, err = _promote(registry.name, "3", "production", "--reason", "r")
    assert code == 2 and "it was moved meanwhile" in err


@pytest.mark.django_db
def test_it_exits_4_while_mlflow_is_down(own_server: Server, mlflow_template: MlflowStore) -> None:
    registry = make_registry(own_server, mlflow_template)
    own_server.stop()
    code, out, _ = _promote(registry.name, "3", "production", "--reason", "r", "--wait", "1")
    assert code == 4 and "Still pending" in out and Promotion.objects.get().status == "pending"


@pytest.mark.django_db
def test_it_exits_4_while_waiting_for_a_second_approver(registry: Registry) -> None:
    PromotionPolicy.objects.create(model=registry.model, target="production", four_eyes=True)
    code, out, _ = _promote(registry.name, "3", "production", "--reason", "r")
    assert code == 4 and "Waiting for a second approver" in out


@pytest.mark.django_db
def test_it_exits_1_when_mlflow_refuses(registry: Registry) -> None:
    registry.client.delete_model_version(registry.name, "3")  # gone in MLflow, still in the mirror
    code, _, err = _promote(registry.name, "3", "production", "--reason", "r")
    assert code == 1 and "MLflow has no version 3" in err


@pytest.mark.django_db
def test_a_missing_reason_or_version_is_an_error(registry: Registry) -> None:
    with pytest.raises(CommandError, match="A reason is required"):
        call_command("promote", registry.name, "3", "production", "--reason", " ")
    with pytest.raises(CommandError, match="No version 9"):
        call_command("promote", registry.name, "9", "production", "--reason", "r")
