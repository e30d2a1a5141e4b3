"""``manage.py demo_project``: the demo is checked with the real tools a user would use (MlflowClient, git, dvc)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

BUILD_BUDGET_S = 180


def _tool_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "GIT_"))}
    env.update({"DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "true", "GIT_TERMINAL_PROMPT": "0"})
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_tool_env(), check=True, capture_output=True, text=True).stdout


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, env=_tool_env(), capture_output=True, text=True, check=False
    )


def _md5_of_dvc_file(text: str) -> str:
    """The md5 of the single output in a .dvc file (``outs: - md5: ...``)."""
    for line in text.splitlines():
        key, _, value = line.strip().lstrip("- ").partition(":")
        if key == "md5":
            return value.strip()
    raise AssertionError(f"no md5 in {text!r}")


@pytest.mark.django_db
def test_demo_project_builds_a_real_lineage_scenario_and_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    demo = tmp_path / "demo"
    out = io.StringIO()

    started = time.monotonic()
    call_command("demo_project", str(demo), stdout=out)
    build_seconds = time.monotonic() - started
    print(f"demo build took {build_seconds:.1f} s (budget {BUILD_BUDGET_S} s; measured, not asserted)")

    repo = demo / "repo"
    tracking_uri = f"sqlite:///{demo / 'mlflow_data' / 'mlflow.db'}"
    assert tracking_uri in out.getvalue()
    assert (demo / ".demo-complete").is_file()

    # -- git and DVC -----------------------------------------------------------------------------
    assert _git(repo, "status", "--porcelain") == ""
    assert _git(repo, "config", "user.email").strip() == "ds@example.com"
    data_revisions = _git(repo, "log", "--format=%H", "--", "data/customers.csv.dvc").split()
    committed_md5s = {_md5_of_dvc_file(_git(repo, "show", f"{rev}:data/customers.csv.dvc")) for rev in data_revisions}
    assert len(committed_md5s) >= 3
    head_md5 = _md5_of_dvc_file(_git(repo, "show", "HEAD:data/customers.csv.dvc"))

    cloud = _dvc(repo, "status", "--cloud")
    assert cloud.returncode == 0 and "in sync" in cloud.stdout, cloud.stdout + cloud.stderr
    dag = _dvc(repo, "dag")
    assert dag.returncode == 0, dag.stderr
    for stage in ("prepare", "featurize", "train", "evaluate"):
        assert stage in dag.stdout

    # The product reads the same pipeline through DVC's API as `dvc dag` prints.
    from apps.dvc_sync.client import pipeline_of_tree
    from apps.dvc_sync.graphs import parse_dot

    pipeline = pipeline_of_tree(repo)
    assert pipeline.stages == parse_dot(_dvc(repo, "dag", "--dot").stdout)
    assert pipeline.outputs == parse_dot(_dvc(repo, "dag", "--outs", "--dot").stdout)
    assert {"prepare", "featurize", "train", "evaluate", "data/customers.csv.dvc"} <= pipeline.stages.nodes
    from apps.dvc_sync.client import tracked_data_of_tree

    pinned = {(t.path, t.role, t.stage): t for t in tracked_data_of_tree(repo)}
    assert pinned[("data/customers.csv", "out", "data/customers.csv.dvc")].hash_value == head_md5
    assert pinned[("data/customers.csv", "dep", "prepare")].hash_value == head_md5
    assert ("models/run_id.txt", "out", "train") in pinned

    # -- MLflow ----------------------------------------------------------------------------------
    from mlflow import MlflowClient  # imported here: importing mlflow costs seconds at collection time

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name("churn-prediction")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) >= 4
    for run in runs:
        commit = run.data.tags.get("mlflow.source.git.commit")
        assert commit, f"run {run.info.run_name} has no git commit tag"
        assert _git(repo, "cat-file", "-t", commit).strip() == "commit"

    versions = client.search_model_versions("name='churn-predictor'")
    assert len(versions) >= 3
    aliases = client.get_registered_model("churn-predictor").aliases
    assert {"production", "staging"} <= set(aliases)
    assert aliases["production"] != aliases["staging"]
    assert client.get_model_version("churn-predictor", aliases["production"]).current_stage == "Production"
    assert client.get_model_version("churn-predictor", aliases["staging"]).current_stage == "Staging"

    digests = {
        run.info.run_id: [dataset_input.dataset.digest for dataset_input in run.inputs.dataset_inputs] for run in runs
    }
    verified = [run_id for run_id, found in digests.items() if head_md5 in found]
    conflicting = [run_id for run_id, found in digests.items() if any(d not in committed_md5s for d in found)]
    assert verified, "no run logged the committed data/customers.csv as its dataset input"
    assert conflicting, "no run logged data that was never committed"
    assert set(verified).isdisjoint(conflicting)

    head_run_id = _git(repo, "show", "HEAD:models/run_id.txt").strip()
    evaluated = json.loads(_git(repo, "show", "HEAD:metrics.json"))
    head_metrics = client.get_run(head_run_id).data.metrics
    assert evaluated and all(head_metrics[name] == pytest.approx(value) for name, value in evaluated.items())

    # -- a second run keeps everything and is quick ------------------------------------------------
    marker = (demo / ".demo-complete").read_text()
    head = _git(repo, "rev-parse", "HEAD")
    again = io.StringIO()
    call_command("demo_project", str(demo), stdout=again)
    assert "already" in again.getvalue()
    assert (demo / ".demo-complete").read_text() == marker
    assert _git(repo, "rev-parse", "HEAD") == head
    assert len(client.search_runs([experiment.experiment_id], max_results=100)) == len(runs)

    # -- what `make run` does with it: add it as a source, sync, make a login --------------------------
    from apps.mlflow_sync.models import ModelVersion, Run

    boot = io.StringIO()
    call_command("bootstrap", demo_path=str(demo), stdout=boot)
    assert "Synced mlflow source 'demo'" in boot.getvalue(), boot.getvalue()
    assert Run.objects.filter(source__name="demo").count() == len(runs)
    production = next(
        v for v in ModelVersion.objects.filter(model__name="churn-predictor") if "production" in v.aliases
    )
    assert production.version == int(aliases["production"]) and production.stage == "Production"
    assert production.run is not None and production.run.run_id == head_run_id
