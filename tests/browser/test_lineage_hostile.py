"""Hostile strings from MLflow, DVC and git reach the lineage pages as text: `<script>`, `<img onerror>` and HTML in a
run's name, tags and params, in data paths and in a commit message are shown as written — in the pages and in
plotly's hover — and nothing runs."""

from __future__ import annotations

import pytest
from mlflow.entities import Dataset, DatasetInput
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, expect

from apps.core.services import sync_source
from apps.dvc_sync.models import DataVersion
from apps.dvc_sync.services import dvc_source_add
from apps.mlflow_sync.models import Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.browser.conftest import login, shot
from tests.browser.test_dvc_pages import NODE_IN
from tests.conftest import MlflowStore, _user
from tests.dvc_sync.test_pages import HOSTILE_MESSAGE, IMG, IMG_PATH, SCRIPT, SCRIPT_PATH, shared_demo_repo

pytestmark = pytest.mark.browser

RUN_NAME = f"{SCRIPT} run {IMG}"
BOLD = "<b>not bold</b>"


def _hostile_run(store: MlflowStore, sha: str, img_md5: str) -> tuple[str, int]:
    client = MlflowClient(store.uri, store.uri)
    experiment = client.create_experiment(f"hostile {BOLD}")
    run = client.create_run(
        experiment,
        run_name=RUN_NAME,
        tags={"mlflow.source.git.commit": sha, "note": SCRIPT, "mlflow.source.git.branch": IMG},
    )
    rid = run.info.run_id
    client.log_param(rid, "comment", BOLD)
    client.log_param(rid, "payload", IMG)
    client.log_metric(rid, "roc_auc", 0.87)
    client.log_inputs(
        rid, datasets=[DatasetInput(Dataset(name=SCRIPT, digest=img_md5, source_type="local", source=IMG_PATH))]
    )
    client.set_terminated(rid, "FINISHED")
    client.create_registered_model("hostile-model", description=SCRIPT)
    version = client.create_model_version("hostile-model", f"runs:/{rid}/model", run_id=rid, description=IMG)
    client.set_registered_model_alias("hostile-model", "production", version.version)
    return rid, int(version.version)


def test_hostile_strings_read_as_written_and_never_run(
    page: Page, mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = shared_demo_repo(tmp_path_factory)
    dvc = dvc_source_add(name="hostile", location=str(repo.path))[0]
    assert sync_source(kind="dvc", source_id=dvc.pk).status == "succeeded"
    img = DataVersion.objects.get(source=dvc, path=IMG_PATH)
    rid, version = _hostile_run(mlflow_store, repo.sha[HOSTILE_MESSAGE], img.hash_value)
    source = mlflow_source_add(name="lab", tracking_uri=mlflow_store.uri)[0]
    assert sync_source(kind="mlflow", source_id=source.pk).status == "succeeded"
    run = Run.objects.get(run_id=rid)
    assert run.lineage.verdict == "complete"

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, _user("vera", "viewer"), "pw-vera")

    page.goto(f"/lineage/models/hostile-model/versions/{version}/")
    expect(page.locator(".lineage-graph[data-ready='1']")).to_have_count(1)
    body = page.locator("main")
    for text in (RUN_NAME, IMG_PATH, SCRIPT_PATH, BOLD, IMG):
        expect(body).to_contain_text(text)
    assert page.locator("main b", has_text="not bold").count() == 0
    assert page.locator("main img[src=x]").count() == 0
    point = page.evaluate(NODE_IN, [".lineage-graph", f"/lineage/data/{img.pk}/"])
    assert point is not None, "the hostile data version is not a node of the graph"
    page.mouse.move(point["x"], point["y"])
    hover = page.locator(".lineage-graph .hoverlayer .hovertext")
    expect(hover).to_contain_text(IMG_PATH)
    expect(hover).to_contain_text(f"dataset input '{SCRIPT}'")
    assert page.locator(".lineage-graph .hoverlayer img").count() == 0
    shot(page, "lineage_hostile_model_version")

    page.goto(f"/mlflow/runs/{run.pk}/")
    expect(page.locator(".lineage-graph[data-ready='1']")).to_have_count(1)
    expect(page.locator("main")).to_contain_text(RUN_NAME)
    expect(page.locator("main")).to_contain_text(IMG_PATH)

    page.goto(f"/lineage/data/{img.pk}/")
    expect(page.locator("main")).to_contain_text(IMG_PATH)
    expect(page.locator("main")).to_contain_text(RUN_NAME)
    shot(page, "lineage_hostile_data_version")

    page.goto("/search/?q=onerror")
    expect(page.locator("main")).to_contain_text(IMG_PATH)
    assert page.locator("main img[src=x]").count() == 0

    page.goto(f"/data/hostile/commit/{repo.sha[HOSTILE_MESSAGE]}/")
    expect(page.locator("main")).to_contain_text(HOSTILE_MESSAGE)
    assert dialogs == [], f"a hostile string ran as script: {dialogs}"
