"""Links out to MLflow's own UI: built only from the UI URL an admin configured on the source, never from a URL
found in MLflow's data (such as the ``mlflow.source.git.repoURL`` tag)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from mlflow.tracking import MlflowClient

from apps.core import services as core_services
from apps.core.validators import http_url_validator
from apps.mlflow_sync.models import MlflowSource, RegisteredModel, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import MlflowStore

BASE = "https://mlflow.example.com"
BAD_URLS = [
    "javascript:alert(1)",
    "JavaScript://mlflow.example.com/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://mlflow.example.com",
    "//mlflow.example.com",
    "/mlflow",
    "mlflow.example.com",
    "https://user:secret@mlflow.example.com",
    "https://token@mlflow.example.com",
    "https://mlflow.example.com/#/experiments",
    "https://mlflow.example.com/?next=https://evil.example",
    "https:///nohost",
    "https://mlflow.example.com/a b",
    "https://mlflow.example.com\\evil.example",
    "https://mlflow.example.com:99999",
    'https://mlflow.example.com/"onmouseover="alert(1)',
]


def _source(ui_url: str = BASE) -> MlflowSource:
    return MlflowSource(name="s", tracking_uri="http://127.0.0.1:5000", ui_url=ui_url)


def _synced(mlflow_store: MlflowStore, ui_url: str) -> MlflowSource:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    source.ui_url = ui_url
    core_services.source_check(source)
    source.save()
    core_services.sync_source(kind="mlflow", source_id=source.pk)
    return source


def _hrefs(body: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', body)


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_validator_refuses_anything_but_a_plain_http_base(url: str) -> None:
    with pytest.raises(ValidationError):
        http_url_validator(url)


@pytest.mark.parametrize(
    "url", ["https://mlflow.example.com", "http://127.0.0.1:5000/", "https://tools.example.com/mlflow", "http://mlflow"]
)
def test_the_validator_accepts_http_and_https(url: str) -> None:
    http_url_validator(url)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://user:pass@mlflow.example.com", "relative/path"])
def test_a_source_with_a_bad_ui_url_is_refused(db: None, url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _source(url).full_clean()
    assert "ui_url" in exc.value.message_dict


def test_the_run_url_quotes_each_id_whole() -> None:
    url = _source(BASE + "/").run_ui_url("1/../../x", '"><script>alert(1)</script>?#')
    assert url == (f"{BASE}/#/experiments/1%2F..%2F..%2Fx/runs/%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%3F%23")


def test_the_model_version_url_quotes_the_name() -> None:
    assert _source().model_version_ui_url("it's a/model", 3) == f"{BASE}/#/models/it%27s%20a%2Fmodel/versions/3"


def test_no_url_is_built_without_a_ui_url_or_from_an_unvalidated_one() -> None:
    assert _source("").run_ui_url("1", "abc") == ""
    assert _source("").model_version_ui_url("m", 1) == ""
    # A row written around validation (queryset.update, a data migration) still builds no link.
    assert _source("javascript:alert(1)//").run_ui_url("1", "abc") == ""
    assert _source("https://mlflow.example.com").run_ui_url("", "abc") == ""


def test_the_run_page_opens_the_run_in_mlflow(viewer_client: Client, db: None, mlflow_store: MlflowStore) -> None:
    _synced(mlflow_store, BASE)
    run = Run.objects.select_related("experiment").get(run_id=mlflow_store.facts["run_ids"]["rf-3"])
    assert run.experiment is not None
    body = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    link = f'href="{BASE}/#/experiments/{run.experiment.experiment_id}/runs/{run.run_id}"'
    assert link in body and "Open in MLflow" in body
    assert 'target="_blank" rel="noopener noreferrer"' in body


def test_the_run_page_has_no_mlflow_link_when_none_is_configured(
    viewer_client: Client, db: None, mlflow_store: MlflowStore
) -> None:
    _synced(mlflow_store, "")
    run = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["rf-3"])
    body = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    assert "Open in MLflow" not in body and "#/experiments/" not in body


@pytest.mark.parametrize("repo_url", ["javascript:alert(1)", "https://evil.example/org/repo.git"])
def test_a_repo_url_tag_from_mlflow_never_becomes_a_link(
    viewer_client: Client, db: None, mlflow_store: MlflowStore, repo_url: str
) -> None:
    client = MlflowClient(mlflow_store.uri, mlflow_store.uri)
    experiment = client.get_experiment_by_name("churn-prediction")
    assert experiment is not None
    run_id = client.create_run(
        experiment.experiment_id,
        run_name="from-a-fork",
        tags={"mlflow.source.git.repoURL": repo_url, "mlflow.source.git.commit": "a" * 40},
    ).info.run_id
    client.set_terminated(run_id)
    _synced(mlflow_store, BASE)
    run = Run.objects.get(run_id=run_id)
    assert run.git_repo_url == repo_url
    body = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    assert repo_url in body  # shown, as text
    assert not [h for h in _hrefs(body) if "evil" in h or h.lower().startswith(("javascript:", "data:"))]
    assert [h for h in _hrefs(body) if h.startswith("http")] == [
        f"{BASE}/#/experiments/{experiment.experiment_id}/runs/{run_id}"
    ]


def test_the_model_page_opens_each_version_in_mlflow(
    viewer_client: Client, db: None, mlflow_store: MlflowStore, django_assert_max_num_queries
) -> None:
    _synced(mlflow_store, BASE)
    model = RegisteredModel.objects.get(name="churn-predictor")
    with django_assert_max_num_queries(8):
        body = viewer_client.get(f"/mlflow/models/{model.pk}/").content.decode()
    versions = sorted(model.versions.values_list("version", flat=True))
    assert versions == sorted(mlflow_store.facts["versions"])
    for version in versions:
        assert f'href="{BASE}/#/models/churn-predictor/versions/{version}"' in body
    assert body.count("Open in MLflow") == len(versions)


def test_the_model_page_has_no_mlflow_link_when_none_is_configured(
    viewer_client: Client, db: None, mlflow_store: MlflowStore
) -> None:
    _synced(mlflow_store, "")
    model = RegisteredModel.objects.get(name="churn-predictor")
    assert "Open in MLflow" not in viewer_client.get(f"/mlflow/models/{model.pk}/").content.decode()


def test_the_admin_form_saves_a_ui_url_and_refuses_a_script_one(db: None, mlflow_store: MlflowStore) -> None:
    admin = User.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(admin)
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    url = f"/admin/mlflow_sync/mlflowsource/{source.pk}/change/"
    form = {"name": "local", "tracking_uri": mlflow_store.uri, "enabled": "on"}
    resp = client.post(url, {**form, "ui_url": "javascript:alert(1)"})
    assert resp.status_code == 200 and "Use an http:// or https:// URL." in resp.content.decode()
    assert client.post(url, {**form, "ui_url": BASE}).status_code == 302
    source.refresh_from_db()
    assert source.ui_url == BASE
