"""Compare what a sync mirrored with what MLflow's own client returns for the same store."""

from __future__ import annotations

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from apps.mlflow_sync.models import MlflowSource, ModelVersion, RegisteredModel, Run


def assert_mirror_matches_client(source: MlflowSource, client: MlflowClient) -> None:
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL, max_results=5000)
    mirrored = {r.run_id: r for r in Run.objects.filter(source=source).prefetch_related("dataset_inputs")}
    assert set(mirrored) == {r.info.run_id for r in runs}
    for run in runs:
        m = mirrored[run.info.run_id]
        assert m.status == run.info.status
        assert m.name == (run.info.run_name or "")
        assert m.params == run.data.params
        assert m.metrics == run.data.metrics
        assert m.tags == run.data.tags
        assert m.deleted == (run.info.lifecycle_stage == "deleted")
        assert m.experiment is not None and m.experiment.experiment_id == run.info.experiment_id
        assert (m.start_time.timestamp() * 1000 if m.start_time else None) == run.info.start_time
        expected_inputs = sorted(
            (d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source)
            for d in (run.inputs.dataset_inputs if run.inputs else [])
        )
        got_inputs = sorted((i.name, i.digest, i.source_type, i.source) for i in m.dataset_inputs.all())
        assert got_inputs == expected_inputs
    all_versions = client.search_model_versions(max_results=10000)
    for rm in client.search_registered_models():
        model = RegisteredModel.objects.get(source=source, name=rm.name)
        full = client.get_registered_model(rm.name)
        assert model.aliases == {a: int(v) for a, v in full.aliases.items()}
        assert model.tags == rm.tags
        versions = [v for v in all_versions if v.name == rm.name]
        mirrored_versions = {v.version: v for v in ModelVersion.objects.filter(model=model, deleted=False)}
        assert set(mirrored_versions) == {int(v.version) for v in versions}
        for v in versions:
            mv = mirrored_versions[int(v.version)]
            assert mv.mlflow_run_id == (v.run_id or "")
            assert mv.stage == v.current_stage
            assert mv.tags == v.tags
            assert mv.artifact_source == v.source
            assert sorted(mv.aliases) == sorted(a for a, n in full.aliases.items() if int(n) == int(v.version))
            if v.run_id:
                assert mv.run is not None and mv.run.run_id == v.run_id
