"""``add_source`` takes the base URLs the pages link out to, and refuses any that is not http(s)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.dvc_sync.models import DvcSource
from apps.mlflow_sync.models import MlflowSource
from tests.conftest import MlflowStore
from tests.dvc_sync.repos import run

pytestmark = pytest.mark.django_db


def test_it_stores_the_mlflow_ui_and_git_web_urls(mlflow_store: MlflowStore, tmp_path: Path) -> None:
    call_command(
        "add_source", "mlflow", "team", mlflow_store.uri, "--ui-url", "https://mlflow.example.com", stdout=StringIO()
    )
    run(["git", "init", "-q"], tmp_path)
    call_command(
        "add_source", "dvc", "data", str(tmp_path), "--web-url", "https://github.com/acme/data", stdout=StringIO()
    )
    assert MlflowSource.objects.get(name="team").ui_url == "https://mlflow.example.com"
    assert (
        DvcSource.objects.get(name="data").commit_web_url("a" * 40) == f"https://github.com/acme/data/commit/{'a' * 40}"
    )


def test_it_refuses_a_link_base_that_is_not_http(mlflow_store: MlflowStore) -> None:
    with pytest.raises(CommandError, match="ui_url"):
        call_command(
            "add_source", "mlflow", "team", mlflow_store.uri, "--ui-url", "javascript:alert(1)", stdout=StringIO()
        )
    assert not MlflowSource.objects.filter(name="team").exists()
