"""Syncing a real MLflow store, directly (SQL) and through a real `mlflow server` (REST)."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.mlflow_sync.models import DatasetInput, MlflowSource, ModelVersion, RegisteredModel, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowServer, MlflowStore
from tests.mlflow_sync.compare import assert_mirror_matches_client

pytestmark = pytest.mark.django_db


def _sync(source: MlflowSource, full: bool = False) -> SyncRun:
    return core_services.sync_source(kind="mlflow", source_id=source.pk, full=full)


@pytest.fixture
def sql_source(mlflow_store: MlflowStore) -> MlflowSource:
    return mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]


def test_it_mirrors_a_sqlite_store_as_mlflow_client_sees_it(
    sql_source: MlflowSource, mlflow_store: MlflowStore
) -> None:
    run = _sync(sql_source)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert_mirror_matches_client(sql_source, MlflowClient(mlflow_store.uri, mlflow_store.uri))


def test_it_records_git_tags_inputs_and_the_dirty_logged_model(
    sql_source: MlflowSource, mlflow_store: MlflowStore
) -> None:
    _sync(sql_source)
    ids = mlflow_store.facts["run_ids"]
    rf2 = Run.objects.get(run_id=ids["rf-2"])
    assert rf2.git_commit == f"{2:040x}" and rf2.git_branch == "main" and rf2.source_name == "src/train.py"
    child = Run.objects.get(run_id=ids["sweep-child"])
    assert child.parent_run_id == ids["sweep"]
    data = DatasetInput.objects.get(run__run_id=ids["with-input"])
    assert (data.digest, data.context, data.name) == ("0123456789abcdef0123456789abcdef", "training", "customers")
    logged = ModelVersion.objects.get(logged_model_id=mlflow_store.facts["logged_model"])
    assert logged.git_dirty is True
    assert Run.objects.get(run_id=ids["deleted-run"]).deleted


def test_a_second_sync_without_changes_writes_no_run(sql_source: MlflowSource) -> None:
    _sync(sql_source)
    before = list(Run.objects.order_by("pk").values_list("pk", "run_id", "probe", "metrics"))
    second = _sync(sql_source)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert second.counts["runs_written"] == 0
    assert list(Run.objects.order_by("pk").values_list("pk", "run_id", "probe", "metrics")) == before


def test_it_sees_metrics_logged_into_a_finished_run(sql_source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(sql_source)
    rid = mlflow_store.facts["run_ids"]["rf-0"]
    client = MlflowClient(mlflow_store.uri, mlflow_store.uri)
    client.log_metric(rid, "test_accuracy", 0.88)
    client.set_tag(rid, "stage", "evaluated")
    second = _sync(sql_source)
    assert second.counts["runs_written"] == 1
    run = Run.objects.get(run_id=rid)
    assert run.metrics["test_accuracy"] == 0.88 and run.tags["stage"] == "evaluated"


def test_it_sees_an_alias_move_and_a_deleted_version(sql_source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(sql_source)
    client = MlflowClient(mlflow_store.uri, mlflow_store.uri)
    client.set_registered_model_alias("churn-predictor", "production", "3")
    client.delete_model_version("churn-predictor", "1")
    second = _sync(sql_source)
    model = RegisteredModel.objects.get(name="churn-predictor")
    assert model.aliases["production"] == 3
    assert ModelVersion.objects.get(model=model, version=3).aliases == ["production", "staging"]
    assert ModelVersion.objects.get(model=model, version=2).aliases == []
    assert ModelVersion.objects.get(model=model, version=1).deleted
    assert second.counts["registry_changes"] >= 2
    assert_mirror_matches_client(sql_source, client)


def test_a_run_deleted_in_mlflow_is_marked_not_lost(sql_source: MlflowSource, mlflow_store: MlflowStore) -> None:
    _sync(sql_source)
    rid = mlflow_store.facts["run_ids"]["rf-4"]
    MlflowClient(mlflow_store.uri, mlflow_store.uri).delete_run(rid)
    _sync(sql_source)
    run = Run.objects.get(run_id=rid)
    assert run.deleted and run.params["n_estimators"] == "90"


def test_syncing_twice_leaves_the_same_rows(sql_source: MlflowSource) -> None:
    _sync(sql_source)
    counts = (Run.objects.count(), ModelVersion.objects.count(), DatasetInput.objects.count())
    _sync(sql_source, full=True)
    assert (Run.objects.count(), ModelVersion.objects.count(), DatasetInput.objects.count()) == counts


def test_it_mirrors_a_tracking_server_over_rest(mlflow_server: MlflowServer) -> None:
    source = mlflow_source_add(name="server", tracking_uri=mlflow_server.url)[0]
    run = _sync(source)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert_mirror_matches_client(source, MlflowClient(mlflow_server.url, mlflow_server.url))
    again = _sync(source)
    assert again.status == SyncRun.Status.SUCCEEDED and again.counts["runs_written"] == 0


def test_a_tag_overwritten_with_a_value_of_the_same_length_is_seen(
    sql_source: MlflowSource, mlflow_store: MlflowStore
) -> None:
    _sync(sql_source)
    rid = mlflow_store.facts["run_ids"]["rf-1"]
    MlflowClient(mlflow_store.uri, mlflow_store.uri).set_tag(rid, "mlflow.source.git.commit", "f" * 40)
    assert _sync(sql_source).counts["runs_written"] == 1
    assert Run.objects.get(run_id=rid).git_commit == "f" * 40


def test_a_run_that_disappears_and_comes_back_is_restored(sql_source: MlflowSource, mlflow_store: MlflowStore) -> None:
    import shutil
    import sqlite3

    _sync(sql_source)
    backup = mlflow_store.path.with_suffix(".bak")
    shutil.copy(mlflow_store.path, backup)
    rid = mlflow_store.facts["run_ids"]["rf-2"]
    with sqlite3.connect(mlflow_store.path) as conn:  # what `mlflow gc` leaves: the run is gone
        for table in ("params", "tags", "metrics", "latest_metrics"):
            conn.execute(f"DELETE FROM {table} WHERE run_uuid = ?", [rid])
        conn.execute("DELETE FROM model_versions WHERE run_id = ?", [rid])
        conn.execute("DELETE FROM runs WHERE run_uuid = ?", [rid])
    assert _sync(sql_source).counts["runs_deleted"] == 1
    assert Run.objects.get(run_id=rid).deleted
    shutil.copy(backup, mlflow_store.path)  # the store is restored from its backup
    _sync(sql_source)
    assert not Run.objects.get(run_id=rid).deleted


def test_infinite_metrics_are_mirrored_as_mlflow_stores_them(
    sql_source: MlflowSource, mlflow_store: MlflowStore
) -> None:
    _sync(sql_source)
    run = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["sweep"])
    assert run.metrics["diverged"] == pytest.approx(1.7976931348623157e308)
    assert run.metrics["loss"] == pytest.approx(-1.7976931348623157e308)


def test_the_watermark_waits_for_the_registry(sql_source: MlflowSource, monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.core.errors import SyncError
    from apps.mlflow_sync import sqlstore

    def broken(self: object) -> object:
        raise SyncError("registry read failed")

    monkeypatch.setattr(sqlstore.SqlStore, "registry", broken)
    assert _sync(sql_source).status == SyncRun.Status.FAILED
    sql_source.refresh_from_db()
    assert sql_source.sync_state == {}


def test_a_uri_with_a_password_is_refused() -> None:
    from apps.core.errors import SourceError

    with pytest.raises(SourceError, match="password variable"):
        mlflow_source_add(name="leaky", tracking_uri="postgresql://mlflow:s3cret@db.internal/mlflow")


def test_the_rest_path_picks_up_new_and_finishing_runs_between_reconciles(mlflow_server: MlflowServer) -> None:
    source = mlflow_source_add(name="server", tracking_uri=mlflow_server.url)[0]
    assert _sync(source).status == SyncRun.Status.SUCCEEDED  # the first sync reconciles everything
    client = MlflowClient(mlflow_server.url, mlflow_server.url)
    experiment = client.get_experiment_by_name("churn-prediction")
    assert experiment is not None
    run = client.create_run(experiment.experiment_id, run_name="late-arrival")
    second = _sync(source)
    assert second.counts["runs_written"] == 1
    assert Run.objects.get(run_id=run.info.run_id).status == "RUNNING"
    client.log_metric(run.info.run_id, "auc", 0.93)
    client.set_terminated(run.info.run_id, "FINISHED")
    third = _sync(source)
    mirrored = Run.objects.get(run_id=run.info.run_id)
    assert third.counts["runs_written"] == 1
    assert mirrored.status == "FINISHED" and mirrored.metrics["auc"] == 0.93
    source.refresh_from_db()
    assert source.sync_state["rest"]["syncs"] == 3


def test_a_write_that_touches_no_run_rereads_no_run(sql_source: MlflowSource, mlflow_store: MlflowStore) -> None:
    from apps.mlflow_sync.models import Experiment

    _sync(sql_source)
    client = MlflowClient(mlflow_store.uri, mlflow_store.uri)
    experiment = client.get_experiment_by_name("churn-prediction")
    assert experiment is not None
    client.set_experiment_tag(experiment.experiment_id, "team", "growth")
    again = _sync(sql_source)
    assert again.counts["runs_written"] == 0
    assert Experiment.objects.get(name="churn-prediction").tags["team"] == "growth"
