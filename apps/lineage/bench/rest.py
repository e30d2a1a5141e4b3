"""MLflow's own way to answer the pages' questions, timed: ``MlflowClient`` against a real ``mlflow server`` over
a copy of the joined store, as a user without the dashboard would ask it."""

from __future__ import annotations

from pathlib import Path

from apps.lineage.bench.timing import Write, time_each
from apps.mlflow_sync import client as mlflow_client
from apps.mlflow_sync.bench import mlflow_server_over_copy
from apps.mlflow_sync.models import ModelVersion

VIEW_TYPE_ALL = 3  # mlflow.entities.ViewType.ALL (only apps.mlflow_sync.client may import mlflow)


# --- MLflow's REST API --------------------------------------------------------------------------------------------
def measure_rest(
    store: Path, folder: Path, versions: list[ModelVersion], digests: list[str], write: Write
) -> dict[str, list[float]]:
    """Per model version, ``get_model_version`` + ``get_run``; per digest, the runs that logged it
    (``search_runs`` over every experiment) and each one's model versions. Against a real ``mlflow server`` over a
    copy of ``store`` (removed afterwards). Returns the times (seconds) by question."""
    write("Starting `mlflow server` over a copy of the joined store…")
    pairs = [(v.model.name, str(v.version)) for v in versions]
    with mlflow_server_over_copy(store, folder) as url, mlflow_client.mlflow_environment(timeout=120):
        client = mlflow_client.make_client(url, url)
        experiments = [e.experiment_id for e in client.search_experiments(view_type=VIEW_TYPE_ALL)]

        def version_and_run(pair: tuple[str, str]) -> int:
            run = client.get_run(client.get_model_version(*pair).run_id or "")
            return len(run.inputs.dataset_inputs) if run.inputs else 0

        def impact(md5: str) -> int:
            runs = list(
                mlflow_client.paged(
                    lambda t: client.search_runs(
                        experiments, f"datasets.digest = '{md5}'", VIEW_TYPE_ALL, max_results=1000, page_token=t
                    )
                )
            )
            for run in runs:
                client.search_model_versions(f"run_id = '{run.info.run_id}'")
            return len(runs)

        write(f"  MLflow REST: model version + run, {len(pairs)} versions…")
        times = {"version": time_each(pairs, version_and_run)}
        write(f"  MLflow REST: runs by dataset digest + their versions, {len(digests)} digests…")
        times["impact"] = time_each(digests, impact)
        found = [impact(d) for d in digests[:3]] or [0]
        times["impact_runs"] = [float(min(found)), float(max(found))]
    return times
