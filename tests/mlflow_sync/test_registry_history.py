"""The registry's history MLflow does not keep: a baseline on a source's first registry sync, then one observed event
per alias, stage or version change made outside the dashboard, stamped between the previous reading and this one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mlflow.tracking import MlflowClient

from apps.audit.models import AuditEvent
from apps.core import services as core_services
from apps.mlflow_sync import selectors
from apps.mlflow_sync.models import MlflowSource, RegisteredModel, RegistryChange
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore

pytestmark = pytest.mark.django_db


def _sync(source: MlflowSource) -> None:
    run = core_services.sync_source(kind="mlflow", source_id=source.pk)
    assert run.status == "succeeded", run.error


@pytest.fixture
def source(mlflow_store: MlflowStore) -> MlflowSource:
    return mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]


def _churn() -> RegisteredModel:
    return RegisteredModel.objects.get(name="churn-predictor")


def test_the_first_sync_writes_a_baseline_per_model(source: MlflowSource) -> None:
    _sync(source)
    source.refresh_from_db()
    assert source.registry_baseline_at is not None
    assert AuditEvent.objects.filter(action="registry.baseline").count() == RegisteredModel.objects.count() == 3
    assert not AuditEvent.objects.filter(action="registry.observed").exists()
    event = AuditEvent.objects.get(action="registry.baseline", target_text="churn-predictor")
    assert event.after["aliases"] == {"production": 2, "staging": 3}
    assert event.after["stages"]["2"] == "Production"
    rows = set(_churn().registry_changes.values_list("kind", "field", "name", "version", "after"))
    assert ("baseline", "alias", "production", 2, "2") in rows and ("baseline", "stage", "", 3, "Staging") in rows


def test_changes_made_in_mlflow_are_observed_one_event_each(source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(source)
    first_read = MlflowSource.objects.get(pk=source.pk).sync_state["registry"]["read_at"]
    client = MlflowClient(mlflow_store.uri, mlflow_store.uri)
    client.set_registered_model_alias("churn-predictor", "production", "3")
    client.transition_model_version_stage("churn-predictor", "3", "Production", archive_existing_versions=True)
    client.delete_model_version("churn-predictor", "1")
    _sync(source)
    observed = AuditEvent.objects.filter(action="registry.observed").order_by("seq")
    assert [e.after["change"] for e in observed] == [
        "v2: Production → Archived",
        "v3: Staging → Production",
        "@production: v2 → v3",
        "v1 deleted",
    ]
    window = observed[0].after["observed_between"]
    assert window[0] == first_read and window[1] > window[0]
    change = _churn().registry_changes.get(kind="observed", field="alias")
    assert (change.before, change.after, change.not_before.isoformat()) == ("2", "3", first_read)


def test_a_sync_that_sees_no_change_records_nothing(source: MlflowSource) -> None:
    _sync(source)
    count = AuditEvent.objects.filter(target_type="registered_model").count()
    observed_at = _churn().observed_at
    _sync(source)
    assert AuditEvent.objects.filter(target_type="registered_model").count() == count
    assert _churn().observed_at > observed_at


def test_which_version_held_an_alias_at_a_moment(source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(source)
    baseline = MlflowSource.objects.get(pk=source.pk).registry_baseline_at
    _sync(source)
    seen_unchanged = _churn().observed_at  # the second reading began here and still saw v2
    MlflowClient(mlflow_store.uri, mlflow_store.uri).set_registered_model_alias("churn-predictor", "production", "3")
    _sync(source)
    model = _churn()
    moved = model.registry_changes.get(kind="observed", field="alias")
    assert moved.not_before == seen_unchanged
    before_baseline = selectors.registry_holder_at(
        model=model, field="alias", name="production", at=baseline - timedelta(1)
    )
    assert not before_baseline.known and before_baseline.known_since == baseline
    certain = selectors.registry_holder_at(model=model, field="alias", name="production", at=seen_unchanged)
    assert certain.version == 2 and not certain.uncertain
    inside_window = moved.not_before + (moved.at - moved.not_before) / 2
    unsure = selectors.registry_holder_at(model=model, field="alias", name="production", at=inside_window)
    assert unsure.version == 2 and unsure.uncertain == [moved]
    after = selectors.registry_holder_at(model=model, field="alias", name="production", at=moved.at)
    assert after.version == 3 and after.since == moved
    stage = selectors.registry_holder_at(model=model, field="stage", name="Production", at=moved.at)
    assert stage.versions == [2]


def test_the_timeline_spans_end_where_the_holder_changed(source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(source)
    MlflowClient(mlflow_store.uri, mlflow_store.uri).set_registered_model_alias("churn-predictor", "production", "3")
    _sync(source)
    spans = [s for s in selectors.registry_spans(_churn()) if s.field == "alias" and s.name == "production"]
    assert [(s.version, s.end is None, s.how) for s in spans] == [(2, False, "baseline"), (3, True, "observed")]
    assert spans[0].end == spans[1].start
    assert RegistryChange.objects.filter(kind="observed").count() == 1


def test_a_refusal_is_not_taken_for_an_outage() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

    from apps.mlflow_sync.client import RegistryRefused, RegistryUnavailable, _registry_guard

    def missing() -> None:
        raise MlflowException("Model Version (name=resnet-500, version=512) not found", RESOURCE_DOES_NOT_EXIST)

    def overloaded() -> None:
        raise MlflowException("The registry is busy, try again later", TEMPORARILY_UNAVAILABLE)

    with pytest.raises(RegistryRefused):
        _registry_guard("http://mlflow:5000", missing)
    with pytest.raises(RegistryUnavailable):
        _registry_guard("http://mlflow:5000", overloaded)


def test_the_model_page_answers_a_date_that_does_not_exist(source: MlflowSource, viewer_client) -> None:  # type: ignore[no-untyped-def]
    _sync(source)
    page = viewer_client.get(f"/mlflow/models/{_churn().pk}/", {"slot": "alias:production", "at": "2026-02-30T10:00"})
    assert page.status_code == 200 and "Give a date and time" in page.content.decode()
