"""Bad input in a repository's history: the file at that commit is recorded as unparseable with its path, the line
where known and the reason; the rest of the history syncs; the command exits 0 and says how many commits were
unparseable. Shallow clones and force-pushes are reported, not fatal. Bad locations are refused when saved."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core import services as core_services
from apps.core.errors import SourceError
from apps.core.models import SyncRun
from apps.dvc_sync.models import Commit, DvcSource, Pin
from apps.dvc_sync.services import dvc_source_add
from tests.dvc_sync.repos import run

pytestmark = pytest.mark.django_db

GOOD_DVC = "outs:\n- md5: '{md5}'\n  size: 12\n  hash: md5\n  path: raw.csv\n"
GOOD_YAML = "stages:\n  train:\n    cmd: python train.py\n    deps:\n    - data/raw.csv\n    outs:\n    - model.pkl\n"
GOOD_LOCK = (
    "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data/raw.csv\n"
    "      hash: md5\n      md5: '{md5}'\n      size: 12\n    outs:\n    - path: model.pkl\n      hash: md5\n"
    "      md5: 0123456789abcdef0123456789abcdef\n      size: 5\n"
)
MD5_1 = "11111111111111111111111111111111"
MD5_2 = "22222222222222222222222222222222"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)

CASES = {
    "malformed YAML": ("dvc.yaml", b"stages:\n  train:\n    cmd: [unclosed\n    deps: x\n", 4),
    "merge-conflict markers": (
        "dvc.lock",
        (
            "<<<<<<< HEAD\n" + GOOD_LOCK.format(md5=MD5_1) + "=======\n" + GOOD_LOCK.format(md5=MD5_2) + ">>>>>>> b\n"
        ).encode(),
        1,
    ),
    "missing md5": ("data/raw.csv.dvc", b"outs:\n- size: 12\n  hash: md5\n  path: raw.csv\n", None),
    "empty md5": ("data/raw.csv.dvc", b"outs:\n- md5: ''\n  size: 12\n  hash: md5\n  path: raw.csv\n", None),
    "wrong types": ("data/raw.csv.dvc", b"outs:\n- md5: [1, 2]\n  size: twelve\n  path: raw.csv\n", None),
    "a YAML bomb": ("dvc.yaml", BOMB.encode(), None),
    "non-UTF-8": ("data/raw.csv.dvc", GOOD_DVC.format(md5=MD5_2).encode().replace(b"raw.csv", b"r\xe9w.csv"), 5),
    "a 10 MB lock file": ("dvc.lock", GOOD_LOCK.format(md5=MD5_1).encode() + b"#" * 10_000_000 + b"\n", None),
    "a dvc.yaml DVC rejects": ("dvc.yaml", b"stages:\n  train:\n    deps: [data/raw.csv]\n    colour: blue\n", None),
}


def _write(repo: Path, files: dict[str, bytes | str]) -> None:
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())


def _commit(repo: Path, message: str) -> str:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", message], repo)
    return run(["git", "rev-parse", "HEAD"], repo).strip()


def _project(repo: Path) -> str:
    """A small DVC project (written as ``dvc init`` and ``dvc add`` would) at its first commit."""
    repo.mkdir(parents=True)
    run(["git", "init", "-q"], repo)
    _write(
        repo,
        {
            ".dvc/config": "",
            ".dvc/.gitignore": "/config.local\n/tmp\n/cache\n",
            ".dvcignore": "",
            "data/.gitignore": "/raw.csv\n",
            "data/raw.csv.dvc": GOOD_DVC.format(md5=MD5_1),
            "dvc.yaml": GOOD_YAML,
            "dvc.lock": GOOD_LOCK.format(md5=MD5_1),
        },
    )
    return _commit(repo, "good start")


@pytest.fixture
def repo(tmp_path: Path, settings: pytest.FixtureRequest) -> Path:
    settings.DVC_REPOS_DIR = tmp_path / "clones"  # type: ignore[attr-defined]
    path = tmp_path / "repo"
    _project(path)
    return path


def _sync(source: DvcSource) -> SyncRun:
    result = core_services.sync_source(kind="dvc", source_id=source.pk)
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    return result


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_file_is_recorded_and_the_rest_of_the_history_syncs(case: str, repo: Path) -> None:
    path, content, line = CASES[case]
    _write(repo, {path: content})
    bad = _commit(repo, f"bad: {case}")
    _write(
        repo,
        {
            "data/raw.csv.dvc": GOOD_DVC.format(md5=MD5_2),
            "dvc.yaml": GOOD_YAML,
            "dvc.lock": GOOD_LOCK.format(md5=MD5_2),
        },
    )
    good = _commit(repo, "fixed")
    source, _ = dvc_source_add(name="bad", location=str(repo))
    out = io.StringIO()
    call_command("sync_dvc", "--source", "bad", "--no-progress", stdout=out)
    assert "1 commit recorded as unparseable" in out.getvalue()
    problems = Commit.objects.get(source=source, sha=bad).snapshot.problems
    assert [p["path"] for p in problems] == [path], problems
    assert problems[0]["message"]
    if line is not None:
        assert problems[0]["line"] == line
    pinned = Pin.objects.filter(snapshot__commits__sha=good, data_version__path="data/raw.csv", role="out")
    assert pinned.get().data_version.hash_value == MD5_2
    assert not Commit.objects.get(source=source, sha=good).snapshot.problems


def test_dvcs_own_message_names_what_it_rejected(repo: Path) -> None:
    _write(repo, {"dvc.yaml": CASES["a dvc.yaml DVC rejects"][1]})
    bad = _commit(repo, "a stage without cmd")
    source, _ = dvc_source_add(name="bad", location=str(repo))
    _sync(source)
    problems = Commit.objects.get(source=source, sha=bad).snapshot.problems
    [problem] = problems
    assert "colour" in problem["message"]
    assert problem["message"].startswith("'dvc.yaml' validation failed"), problem["message"]


def test_dvc_dag_warns_that_the_pipeline_leaves_out_an_unparseable_file(repo: Path) -> None:
    _write(repo, {"dvc.yaml": CASES["malformed YAML"][1]})
    _commit(repo, "broken pipeline")
    dvc_source_add(name="bad", location=str(repo))
    call_command("sync_dvc", "--source", "bad", "--no-progress", stdout=io.StringIO())
    out, err = io.StringIO(), io.StringIO()
    call_command("dvc_dag", "--source", "bad", stdout=out, stderr=err)
    assert out.getvalue().splitlines() == ["strict digraph {", '"data/raw.csv.dvc";', "}", ""]
    assert "could not load dvc.yaml:4" in err.getvalue()


def test_a_shallow_clone_reports_the_missing_history(repo: Path, tmp_path: Path) -> None:
    for i in range(3):
        _write(repo, {"data/raw.csv.dvc": GOOD_DVC.format(md5=f"{i}" * 32)})
        _commit(repo, f"raw v{i}")
    shallow = tmp_path / "shallow"
    run(["git", "clone", "-q", "--depth", "2", repo.as_uri(), str(shallow)], tmp_path)
    source, _ = dvc_source_add(name="shallow", location=str(shallow))
    result = _sync(source)
    assert result.counts["commits"] == 2
    assert result.counts["commits_missing_parents"] == 1
    assert "1 commit missing parents" in result.message
    assert Commit.objects.filter(source=source, parents_missing=True).count() == 1


def test_a_force_push_marks_the_commits_no_ref_reaches_and_goes_on(repo: Path) -> None:
    _write(repo, {"data/raw.csv.dvc": GOOD_DVC.format(md5=MD5_2)})
    dropped = _commit(repo, "raw v2, to be rewritten")
    source, _ = dvc_source_add(name="pushed", location=str(repo))
    _sync(source)
    run(["git", "reset", "-q", "--hard", "HEAD~1"], repo)
    _write(repo, {"data/raw.csv.dvc": GOOD_DVC.format(md5="3" * 32)})
    new = _commit(repo, "raw v2, rewritten")
    result = _sync(source)
    assert result.counts["commits"] == 1 and result.counts["commits_dropped_from_refs"] == 1
    assert not Commit.objects.get(source=source, sha=dropped).on_refs
    assert Commit.objects.get(source=source, sha=new).on_refs


def test_a_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        dvc_source_add(name="nowhere", location=str(tmp_path / "nowhere"))
    assert not DvcSource.objects.exists()


def test_a_folder_that_is_not_a_git_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not a git repository"):
        call_command("add_source", "dvc", "plain", str(tmp_path), stdout=io.StringIO())
    assert not DvcSource.objects.exists()


def test_an_unreachable_repository_fails_the_sync_and_keeps_the_mirror(repo: Path, tmp_path: Path) -> None:
    source, _ = dvc_source_add(name="moved", location=str(repo))
    _sync(source)
    before = Commit.objects.filter(source=source).count()
    DvcSource.objects.filter(pk=source.pk).update(location=str(tmp_path / "moved-away"))
    result = core_services.sync_source(kind="dvc", source_id=source.pk)
    assert result.status == SyncRun.Status.FAILED
    assert "Could not fetch" in result.error
    assert Commit.objects.filter(source=source).count() == before


def test_a_subprojects_problems_name_the_file_from_the_repository_top(tmp_path: Path) -> None:
    repo = tmp_path / "mono"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    _write(repo, {"README.md": "monorepo\n", "sub/.dvc/config": "", "sub/data/raw.csv.dvc": CASES["missing md5"][1]})
    sha = _commit(repo, "a DVC subproject with a bad .dvc file")
    source, _ = dvc_source_add(name="mono", location=str(repo), root="sub")
    _sync(source)
    problems = Commit.objects.get(source=source, sha=sha).snapshot.problems
    assert [p["path"] for p in problems] == ["sub/data/raw.csv.dvc"]
