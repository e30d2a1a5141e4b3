"""The run list, run detail, metric history and model pages, through the real test client."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core import services as core_services
from apps.mlflow_sync.filters import FilterError, parse_filter
from apps.mlflow_sync.models import MetricHistory, MlflowSource, RegisteredModel, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def synced(db: None, mlflow_store: MlflowStore) -> MlflowSource:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    core_services.sync_source(kind="mlflow", source_id=source.pk)
    return source


def _names(resp) -> list[str]:
    return [row["run"].name for row in resp.context["table"]]


def test_the_run_list_filters_by_param_and_metric(viewer_client: Client, synced: MlflowSource) -> None:
    resp = viewer_client.get("/mlflow/runs/", {"filter": "params.max_depth = 5 and metrics.auc > 0.75"})
    assert sorted(_names(resp)) == ["rf-2", "rf-5"]


def test_the_run_list_filters_by_tag_status_and_experiment(viewer_client: Client, synced: MlflowSource) -> None:
    assert _names(viewer_client.get("/mlflow/runs/", {"filter": "tags.stage = 'experiment'", "order": "name"})) == [
        f"rf-{i}" for i in range(6)
    ]
    assert _names(viewer_client.get("/mlflow/runs/", {"status": "RUNNING"})) == ["still-running"]
    fraud = synced.experiments.get(name="fraud <detection>")
    names = _names(viewer_client.get("/mlflow/runs/", {"experiment": fraud.pk}))
    assert "sweep" in names and "rf-0" not in names


def test_the_run_list_sorts_by_a_metric(viewer_client: Client, synced: MlflowSource) -> None:
    names = _names(viewer_client.get("/mlflow/runs/", {"order": "-metrics.auc"}))
    assert names[:3] == ["with-input", "rf-5", "rf-4"]


def test_the_run_list_hides_deleted_runs_unless_asked(viewer_client: Client, synced: MlflowSource) -> None:
    assert "deleted-run" not in _names(viewer_client.get("/mlflow/runs/"))
    assert "deleted-run" in _names(viewer_client.get("/mlflow/runs/", {"deleted": "1"}))


def test_a_filter_that_does_not_parse_says_how_to_write_it(viewer_client: Client, synced: MlflowSource) -> None:
    resp = viewer_client.get("/mlflow/runs/", {"filter": "auc bigger than 3"})
    assert resp.status_code == 200
    assert "Cannot read" in resp.content.decode()


def test_the_run_list_paginates_with_bounded_queries(
    viewer_client: Client, synced: MlflowSource, django_assert_max_num_queries
) -> None:
    template = Run.objects.get(name="rf-0")
    for i in range(120):
        template.pk, template.run_id, template.name = None, f"extra{i:027d}", f"extra-{i}"
        template.save()
    with django_assert_max_num_queries(12):
        resp = viewer_client.get("/mlflow/runs/")
    assert len(resp.context["table"]) == 50
    assert "Page 1 of 3" in resp.content.decode()


def test_the_run_detail_escapes_strings_from_mlflow(viewer_client: Client, synced: MlflowSource, mlflow_store) -> None:
    run = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["hostile"])
    body = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    assert HOSTILE not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_the_run_detail_shows_inputs_versions_and_git(
    viewer_client: Client, synced: MlflowSource, mlflow_store
) -> None:
    run = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["with-input"])
    body = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    assert "0123456789abcdef0123456789abcdef" in body and "training" in body
    assert "churn-predictor v4" in body
    rf3 = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["rf-3"])
    body = viewer_client.get(f"/mlflow/runs/{rf3.pk}/").content.decode()
    assert f"{3:040x}" in body and "@production" in body


def test_the_metric_history_is_fetched_once_and_cached(viewer_client: Client, synced: MlflowSource) -> None:
    run = Run.objects.get(name="rf-0")
    data = viewer_client.get(f"/mlflow/runs/{run.pk}/metric-history.json", {"key": "loss"}).json()
    assert [p[0] for p in data["points"]] == [0, 1, 2, 3, 4]
    assert data["points"][0][2] == 1.0
    assert MetricHistory.objects.filter(run=run, key="loss").count() == 1
    MetricHistory.objects.filter(run=run, key="loss").update(points=[[0, 0, 42.0]])
    again = viewer_client.get(f"/mlflow/runs/{run.pk}/metric-history.json", {"key": "loss"}).json()
    assert again["points"] == [[0, 0, 42.0]]


def test_an_unknown_metric_is_404(viewer_client: Client, synced: MlflowSource) -> None:
    run = Run.objects.get(name="rf-0")
    assert viewer_client.get(f"/mlflow/runs/{run.pk}/metric-history.json", {"key": "nope"}).status_code == 404


def test_the_model_page_shows_aliases_stages_and_runs(viewer_client: Client, synced: MlflowSource) -> None:
    model = RegisteredModel.objects.get(name="churn-predictor")
    body = viewer_client.get(f"/mlflow/models/{model.pk}/").content.decode()
    assert "@production" in body and "@staging" in body
    assert "stage-Production" in body and "stage-Staging" in body
    assert "rf-3" in body and "dirty tree" in body


def test_the_model_list_escapes_hostile_names(viewer_client: Client, synced: MlflowSource) -> None:
    body = viewer_client.get("/mlflow/models/").content.decode()
    assert "<script>" not in body.split("<body>", 1)[1]
    assert "churn-predictor" in body


def test_search_finds_runs_models_and_experiments(viewer_client: Client, synced: MlflowSource) -> None:
    body = viewer_client.get("/search/", {"q": "churn"}).content.decode()
    assert "churn-predictor" in body and "churn-prediction" in body
    run = Run.objects.get(name="rf-1")
    assert "rf-1" in viewer_client.get("/search/", {"q": run.run_id[:10]}).content.decode()


def test_the_overview_counts_the_mirror(viewer_client: Client, synced: MlflowSource) -> None:
    resp = viewer_client.get("/")
    stats = {s.label: s.value for s in resp.context["stats"]}
    assert stats["Runs"] == Run.objects.filter(deleted=False).count() and stats["Registered models"] == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 0.1", [("params", "lr", "=", "0.1")]),
        (
            "metrics.auc >= 0.8 and tags.`mlflow.source.git.branch` = 'main and more'",
            [("metrics", "auc", ">=", "0.8"), ("tags", "mlflow.source.git.branch", "=", "main and more")],
        ),
        ("attributes.status != 'FAILED'", [("attributes", "status", "!=", "FAILED")]),
    ],
)
def test_the_filter_language_parses(text: str, expected: list[tuple[str, str, str, str]]) -> None:
    assert [(c.scope, c.key, c.op, c.value) for c in parse_filter(text)] == expected


@pytest.mark.parametrize("text", ["metrics.auc > high", "foo.bar = 1", "params.x", "attributes.colour = red"])
def test_the_filter_language_rejects_nonsense(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)


def test_the_admin_refuses_a_source_whose_sqlite_file_does_not_exist(db: None, tmp_path) -> None:
    from django.contrib.auth.models import User

    admin_user = User.objects.create_superuser("root", password="pw-root-long")
    client = Client()
    client.force_login(admin_user)
    resp = client.post(
        "/admin/mlflow_sync/mlflowsource/add/",
        {"name": "typo", "tracking_uri": f"sqlite:///{tmp_path}/missing.db", "enabled": "on"},
    )
    assert resp.status_code == 200 and "does not exist" in resp.content.decode()
    assert not MlflowSource.objects.exists()


def test_the_admin_sync_action_queues_a_sync(db: None, mlflow_store: MlflowStore) -> None:
    from django.contrib.auth.models import User

    from apps.core.models import SyncRun

    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    admin_user = User.objects.create_superuser("root", password="pw-root-long")
    client = Client()
    client.force_login(admin_user)
    client.post("/admin/mlflow_sync/mlflowsource/", {"action": "queue_sync", "_selected_action": [source.pk]})
    assert SyncRun.objects.get().status == SyncRun.Status.QUEUED
