"""The pipeline DVC's API gives us equals what the real `dvc dag` printed, for real public projects.

The oracle is ../shared/dvc-corpus: each entry's `tree/` (DVC metadata at the repo's paths) and the exact output of
`dvc dag --dot` and `dvc dag --outs --dot` on it, made with the same DVC version.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from apps.dvc_sync.client import pipeline_of_tree
from apps.dvc_sync.graphs import parse_dot
from tests.conftest import ROOT

CORPUS = ROOT.parent / "shared" / "dvc-corpus"
ENTRIES = sorted(p.name for p in CORPUS.iterdir() if (p / "tree").is_dir()) if CORPUS.is_dir() else []


def _checkout(entry: str, tmp_path: Path) -> Path:
    """The entry's tree committed in a fresh git repository, as the corpus README made it."""
    work = tmp_path / "work"
    shutil.copytree(CORPUS / entry / "tree", work)
    git = ["git", "-c", "init.defaultBranch=main", "-c", "user.name=corpus", "-c", "user.email=corpus@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A", "-f"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "corpus tree"], cwd=work, check=True)
    return work


@pytest.mark.skipif(not ENTRIES, reason=f"no DVC corpus at {CORPUS}")
@pytest.mark.parametrize("entry", ENTRIES)
def test_the_pipeline_equals_dvc_dag(entry: str, tmp_path: Path) -> None:
    pipeline = pipeline_of_tree(_checkout(entry, tmp_path))
    expected = parse_dot((CORPUS / entry / "expected" / "dag.dot").read_text())
    expected_outs = parse_dot((CORPUS / entry / "expected" / "dag-outs.dot").read_text())
    assert pipeline.stages == expected
    assert pipeline.outputs == expected_outs


def test_parse_dot_reads_nodes_and_edges() -> None:
    graph = parse_dot('strict digraph {\n"a";\n"b";\n"c";\n"a" -> "b";\n"b" -> "c";\n}\n')
    assert graph.nodes == {"a", "b", "c"} and graph.edges == {("a", "b"), ("b", "c")}
    assert graph.upstream_of("c") == {"a", "b"}


def test_a_malformed_dvc_yaml_is_a_sync_error_with_dvcs_reason(tmp_path: Path) -> None:
    from apps.core.errors import SyncError

    work = tmp_path / "bad"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / ".dvc").mkdir()
    (work / ".dvc" / "config").write_text("")
    (work / "dvc.yaml").write_text("stages:\n  train:\n    cmd: [unclosed\n")
    with pytest.raises(SyncError, match="could not load the pipeline"):
        pipeline_of_tree(work)
