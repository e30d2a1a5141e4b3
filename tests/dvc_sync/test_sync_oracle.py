"""The mirror's pipeline, printed by ``dvc_dag``, equals what the real ``dvc dag`` printed for every corpus project:
the same header and footer, the same node lines and the same edge lines (line order is the file system's in
``dvc dag``, so lines compare as sets)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.dvc_sync.graphs import parse_dot
from apps.dvc_sync.services import dvc_source_add
from tests.dvc_sync.repos import CORPUS, ENTRIES, commit_tree

pytestmark = [pytest.mark.django_db, pytest.mark.skipif(not ENTRIES, reason=f"no DVC corpus at {CORPUS}")]


@pytest.fixture(autouse=True)
def _repos_dir(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.DVC_REPOS_DIR = tmp_path / "clones"  # type: ignore[attr-defined]


def _sync(name: str, location: Path, root: str = "") -> None:
    source, _ = dvc_source_add(name=name, location=str(location), root=root)
    run = core_services.sync_source(kind="dvc", source_id=source.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["commits"] == 1


def _dvc_dag(*args: str) -> str:
    out = io.StringIO()
    call_command("dvc_dag", *args, stdout=out)
    return out.getvalue()


def _assert_same_dot(ours: str, expected: str) -> None:
    assert ours.splitlines()[0] == expected.splitlines()[0] == "strict digraph {"
    assert ours.endswith("}\n\n") and expected.endswith("}\n\n")
    assert sorted(ours.splitlines()) == sorted(expected.splitlines())
    assert parse_dot(ours) == parse_dot(expected)


@pytest.mark.parametrize("entry", ENTRIES)
def test_dvc_dag_prints_what_dvc_dag_printed(entry: str, tmp_path: Path) -> None:
    _sync("corpus", commit_tree(entry, tmp_path / "work"))
    expected = CORPUS / entry / "expected"
    _assert_same_dot(_dvc_dag("--source", "corpus"), (expected / "dag.dot").read_text())
    _assert_same_dot(_dvc_dag("--source", "corpus", "--outs"), (expected / "dag-outs.dot").read_text())


@pytest.mark.parametrize("entry", ENTRIES[:3])
def test_a_subproject_root_gives_the_same_pipeline(entry: str, tmp_path: Path) -> None:
    _sync("sub", commit_tree(entry, tmp_path / "work", subdir="projects/one"), root="projects/one")
    expected = CORPUS / entry / "expected"
    _assert_same_dot(_dvc_dag("--source", "sub", "--rev", "main"), (expected / "dag.dot").read_text())


def test_the_json_format_lists_the_same_nodes_and_edges(tmp_path: Path) -> None:
    entry = ENTRIES[0]
    _sync("corpus", commit_tree(entry, tmp_path / "work"))
    data = json.loads(_dvc_dag("--source", "corpus", "--outs", "--format", "json"))
    expected = parse_dot((CORPUS / entry / "expected" / "dag-outs.dot").read_text())
    assert set(data["nodes"]) == expected.nodes
    assert {tuple(e) for e in data["edges"]} == expected.edges
