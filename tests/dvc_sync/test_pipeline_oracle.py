"""The pipeline DVC's API gives us equals what the real `dvc dag` printed, for real public projects.

The oracle is ../shared/dvc-corpus: each entry's `tree/` (DVC metadata at the repo's paths) and the exact output of
`dvc dag --dot` and `dvc dag --outs --dot` on it, made with the same DVC version.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps.dvc_sync.client import pipeline_of_tree, tracked_data_of_tree
from apps.dvc_sync.graphs import parse_dot, to_dot
from tests.dvc_sync.repos import CORPUS, ENTRIES, commit_tree


def _checkout(entry: str, tmp_path: Path) -> Path:
    return commit_tree(entry, tmp_path / "work")


@pytest.mark.skipif(not ENTRIES, reason=f"no DVC corpus at {CORPUS}")
@pytest.mark.parametrize("entry", ENTRIES)
def test_the_pipeline_equals_dvc_dag(entry: str, tmp_path: Path) -> None:
    pipeline = pipeline_of_tree(_checkout(entry, tmp_path))
    expected = parse_dot((CORPUS / entry / "expected" / "dag.dot").read_text())
    expected_outs = parse_dot((CORPUS / entry / "expected" / "dag-outs.dot").read_text())
    assert pipeline.stages == expected
    assert pipeline.outputs == expected_outs


@pytest.mark.skipif(not ENTRIES, reason=f"no DVC corpus at {CORPUS}")
@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("name", ["dag.dot", "dag-outs.dot"])
def test_dot_output_has_dvcs_header_footer_and_lines(entry: str, name: str) -> None:
    expected = (CORPUS / entry / "expected" / name).read_text()
    ours = to_dot(parse_dot(expected))
    assert ours.splitlines()[0] == expected.splitlines()[0] == "strict digraph {"
    assert ours.endswith("}\n\n") and expected.endswith("}\n\n")
    assert sorted(ours.splitlines()) == sorted(expected.splitlines())


@pytest.mark.skipif(not ENTRIES, reason=f"no DVC corpus at {CORPUS}")
@pytest.mark.parametrize("entry", ENTRIES)
def test_the_tracked_outputs_are_the_nodes_of_dvc_dag_outs(entry: str, tmp_path: Path) -> None:
    tracked = tracked_data_of_tree(_checkout(entry, tmp_path))
    expected_outs = parse_dot((CORPUS / entry / "expected" / "dag-outs.dot").read_text())
    assert {t.path for t in tracked if t.role == "out"} == expected_outs.nodes


def test_imports_keep_their_source_repository_and_locked_revision(tmp_path: Path) -> None:
    if "rmnldwg__lynference" not in ENTRIES:
        pytest.skip("the corpus entry with imports is missing")
    tracked = {t.path: t for t in tracked_data_of_tree(_checkout("rmnldwg__lynference", tmp_path)) if t.role == "out"}
    usz = tracked["data/2021-usz-oropharynx.csv"]
    assert (usz.import_url, usz.import_rev) == ("https://github.com/rmnldwg/lydata", "2021-usz-oropharynx")
    assert usz.import_rev_lock == "30ccb4da1aebcc4d5942c3bba0d47a5b1866796a"
    assert (usz.hash_name, usz.hash_value, usz.size, usz.frozen) == (
        "md5-dos2unix",
        "4c62057de32538d2274eaf7f2af0c759",
        159482,
        True,
    )
    assert usz.stage == usz.dvcfile == "data/2021-usz-oropharynx.csv.dvc"
    joined = tracked["data/joined.csv"]
    assert (joined.stage, joined.dvcfile, joined.hash_value) == (
        "pipeline/dvc.yaml:join",
        "pipeline/dvc.yaml",
        "3214cee7533ee9b99d6ff78df65d9ab3",
    )


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
