"""Each gate failing on the real demo (git + DVC + MLflow): the lineage verdict, metric thresholds, and data
retrievable from a DVC remote an admin configured (never one read from the repository), "unverifiable" when it
cannot be checked. Gate results are stored with the promotion and a refused request is on record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.dvc_sync.models import DvcRemote, DvcSource
from apps.mlflow_sync.models import ModelVersion, RegisteredModel
from apps.promotions.models import Promotion, PromotionPolicy
from apps.promotions.services import promotion_request
from tests.conftest import Demo

MODEL = "churn-predictor"


def _version(demo: Demo, label: str) -> ModelVersion:
    return ModelVersion.objects.select_related("model").get(model__name=MODEL, version=demo.model_versions[label])


def _policy(target: str = "production", **gates: object) -> PromotionPolicy:
    model = RegisteredModel.objects.get(name=MODEL)
    for name in ("production", "staging") if target == "production" else (target,):
        policy = PromotionPolicy.objects.create(model=model, target=name, **gates)
    return policy


def _promote(demo: Demo, label: str, user: User, target: str = "production") -> Promotion:
    return promotion_request(version=_version(demo, label), target=target, reason="gate check", actor=Actor.of(user))


def _gate(promotion: Promotion, gate: str) -> dict:
    (found,) = [g for g in promotion.gate_results if g["gate"] == gate]
    return found


def _remote(url: Path | str, **extra: object) -> DvcRemote:
    return DvcRemote.objects.create(source=DvcSource.objects.get(name="demo"), name="store", url=str(url), **extra)


@pytest.mark.django_db
def test_the_verdict_gate_refuses_a_version_trained_on_uncommitted_data(demo: Demo, approver: User) -> None:
    _policy(require_verdict=True)
    refused = _promote(demo, "uncommitted-data", approver)
    assert refused.status == "refused" and _gate(refused, "verdict")["status"] == "failed"
    assert "verdict conflict" in _gate(refused, "verdict")["detail"]
    event = AuditEvent.objects.get(action="promotion.refused", target_id=str(refused.pk))
    assert event.after["gates"] == refused.gate_results and event.reason == "gate check"
    assert _gate(_promote(demo, "data-v3", approver), "verdict")["status"] == "ok"


@pytest.mark.django_db
def test_a_metric_threshold_refuses_a_weaker_version(demo: Demo, approver: User) -> None:
    weak = _version(demo, "data-v1").run.metrics["test_roc_auc"]
    _policy(metric_gates=[{"metric": "test_roc_auc", "op": ">", "value": weak}])
    refused = _promote(demo, "data-v1", approver)
    assert refused.status == "refused" and _gate(refused, "metric")["detail"] == f"test_roc_auc = {weak:.6g}"
    stronger = _version(demo, "tuned").run.metrics["test_roc_auc"] > weak
    assert _promote(demo, "tuned", approver, target="staging").status == ("pending" if stronger else "refused")


@pytest.mark.django_db
def test_a_metric_the_run_did_not_log_fails_its_gate(demo: Demo, approver: User) -> None:
    _policy(metric_gates=[{"metric": "test_auc", "op": ">=", "value": 0.75}])
    refused = _promote(demo, "data-v3", approver)
    assert refused.status == "refused" and "logged no metric test_auc" in _gate(refused, "metric")["detail"]


@pytest.mark.django_db
def test_data_in_the_configured_remote_passes(demo: Demo, approver: User) -> None:
    _policy(require_retrievable=True)
    _remote(demo.path / "dvc-remote")
    passed = _promote(demo, "data-v3", approver)
    assert _gate(passed, "retrievable")["status"] == "ok", passed.gate_results
    assert passed.status == "pending"


@pytest.mark.django_db
def test_data_missing_from_the_remote_fails(demo: Demo, approver: User, tmp_path: Path) -> None:
    _policy(require_retrievable=True)
    partial = tmp_path / "remote"
    shutil.copytree(demo.path / "dvc-remote", partial)
    v3 = demo.data_md5s["v3"]
    (partial / "files" / "md5" / v3[:2] / v3[2:]).unlink()  # as if one `dvc push` never happened
    _remote(partial)
    refused = _promote(demo, "data-v3", approver)
    gate = _gate(refused, "retrievable")
    assert refused.status == "refused" and gate["status"] == "failed" and "data/customers.csv" in gate["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "setup, why",
    [
        ("none", "No DVC remote is configured"),
        ("missing-folder", "does not exist on this machine"),
        ("unset-credential", "$DVC_TEST_SECRET_NOT_SET not set"),
        ("unreachable-http", "did not answer"),
    ],
)
def test_a_remote_that_cannot_be_checked_is_unverifiable_never_ok(
    setup: str, why: str, demo: Demo, approver: User, tmp_path: Path
) -> None:
    _policy(require_retrievable=True)
    if setup == "missing-folder":
        _remote(tmp_path / "no-such-remote")
    elif setup == "unset-credential":
        _remote(demo.path / "dvc-remote", credential_env={"password": "DVC_TEST_SECRET_NOT_SET"})
    elif setup == "unreachable-http":
        _remote("http://127.0.0.1:9/dvc-store")
    refused = _promote(demo, "data-v3", approver)
    gate = _gate(refused, "retrievable")
    assert refused.status == "refused" and gate["status"] == "unverifiable" and why in gate["detail"]


@pytest.mark.django_db
def test_a_remote_named_in_the_repository_is_never_used(demo: Demo, approver: User) -> None:
    # The demo's .dvc/config names a local remote that holds everything; without an admin-configured one the gate
    # cannot pass.
    _policy(require_retrievable=True)
    assert _gate(_promote(demo, "data-v3", approver), "retrievable")["status"] == "unverifiable"


@pytest.mark.django_db
def test_gates_are_off_until_configured(demo: Demo, approver: User) -> None:
    promotion = _promote(demo, "uncommitted-data", approver)
    assert promotion.status == "pending" and promotion.gate_results == []
