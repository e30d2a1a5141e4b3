"""The benchmark's generated store is a valid MLflow store: MLflow's client reads it, and the sync mirrors it."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.mlflow_sync.benchstore import ensure_bench_store
from apps.mlflow_sync.services import mlflow_source_add
from tests.mlflow_sync.compare import assert_mirror_matches_client


@pytest.mark.django_db
def test_the_generated_store_reads_in_mlflow_and_mirrors_exactly(tmp_path: Path) -> None:
    path = ensure_bench_store(tmp_path, runs=120, experiments=3, log=lambda line: None)
    uri = f"sqlite:///{path}"
    client = MlflowClient(uri, uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, max_results=1000)
    assert len(runs) == 120
    history_key = next(k for k in runs[0].data.metrics if len(client.get_metric_history(runs[0].info.run_id, k)) == 20)
    assert history_key
    assert any(client.get_registered_model(m.name).aliases for m in client.search_registered_models())
    source = mlflow_source_add(name="bench", tracking_uri=uri)[0]
    assert core_services.sync_source(kind="mlflow", source_id=source.pk).status == SyncRun.Status.SUCCEEDED
    assert_mirror_matches_client(source, client)
