"""The benchmark's generated repository is a real DVC project at every commit, checked with DVC itself.

The oracle is the real ``dvc dag`` CLI of this environment (as the benchmark's baseline runs it) and DVC's own
schemas for ``dvc.yaml``, ``dvc.lock`` and ``.dvc`` files; a small history (60 commits, 12 changing DVC files) keeps
it to a few seconds.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml
from dvc.schema import COMPILED_LOCKFILE_SCHEMA, COMPILED_MULTI_STAGE_SCHEMA, COMPILED_SINGLE_STAGE_SCHEMA

from apps.dvc_sync.bench import dag_at, dvc_cli, evenly_spread
from apps.dvc_sync.benchrepo import STAMP_NAME, BenchRepo, add_commits, ensure_bench_repo

COMMITS = 60
DVC_COMMITS = 12
DVC_NAMES = {"dvc.yaml", "dvc.lock", "params.yaml", ".gitignore", ".dvcignore", "config"}


def _small(folder: Path, **overrides: int) -> BenchRepo:
    params = {"commits": COMMITS, "dvc_commits": DVC_COMMITS, "stages": 40, "tracked": 100, **overrides}
    return ensure_bench_repo(folder, log=lambda line: None, **params)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _clone(repo: BenchRepo, tmp_path: Path) -> Path:
    work = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo.path), str(work)], check=True)
    return work


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> BenchRepo:
    return _small(tmp_path_factory.mktemp("benchrepo"))


def _touches_dvc(paths: list[str]) -> bool:
    return any(p.endswith(".dvc") or p.rsplit("/", 1)[-1] in DVC_NAMES for p in paths)


def test_it_makes_the_asked_numbers_of_commits(repo: BenchRepo) -> None:
    log = _git(repo.path, "log", "--reverse", "--format=@%H", "--name-only", "main").split("@")[1:]
    touched = {entry.split()[0]: entry.split()[1:] for entry in log}
    assert len(touched) == COMMITS
    assert len(repo.changed_commits) == DVC_COMMITS
    assert [sha for sha, paths in touched.items() if _touches_dvc(paths)] == repo.changed_commits
    assert repo.head == _git(repo.path, "rev-parse", "main").strip()


def test_it_has_every_kind_of_dvc_change(repo: BenchRepo) -> None:
    assert repo.changed_kinds[0] == "init"
    assert {".dvc", "dvc.lock", "foreach", "dvc.yaml"} <= set(repo.changed_kinds)
    assert repo.stages == 40
    assert repo.tracked == len(_git(repo.path, "ls-files", "*.dvc").split())


def test_it_is_a_valid_dvc_project_at_sampled_commits(repo: BenchRepo, tmp_path: Path) -> None:
    work = _clone(repo, tmp_path)
    foreach_change = repo.changed_commits[repo.changed_kinds.index("foreach")]
    for sha in [*evenly_spread(repo.changed_commits, 2), foreach_change]:
        dot = dag_at(work, sha)  # the benchmark's own check: fails unless `dvc dag --outs --dot` succeeds
        regions = yaml.safe_load((work / "params.yaml").read_text())["regions"]
        interim = {line for line in dot.splitlines() if line.startswith('"data/interim/') and "->" not in line}
        # One output per item of the foreach list at that commit: the list decides the graph.
        assert interim == {f'"data/interim/{r}.parquet";' for r in regions}


def test_dvc_dag_names_the_foreach_stages(repo: BenchRepo, tmp_path: Path) -> None:
    work = _clone(repo, tmp_path)
    done = subprocess.run([str(dvc_cli()), "dag", "--dot"], cwd=work, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    regions = yaml.safe_load((work / "params.yaml").read_text())["regions"]
    assert {f'"ingest@{r}";' for r in regions} <= set(done.stdout.splitlines())


def test_its_files_pass_dvcs_own_schemas(repo: BenchRepo, tmp_path: Path) -> None:
    work = _clone(repo, tmp_path)
    COMPILED_MULTI_STAGE_SCHEMA(yaml.safe_load((work / "dvc.yaml").read_text()))
    lock = COMPILED_LOCKFILE_SCHEMA(yaml.safe_load((work / "dvc.lock").read_text()))
    dvc_files = sorted(work.rglob("*.csv.dvc"))
    assert len(dvc_files) == repo.tracked
    for path in dvc_files:
        COMPILED_SINGLE_STAGE_SCHEMA(yaml.safe_load(path.read_text()))
    assert all(isinstance(out["size"], int) for stage in lock["stages"].values() for out in stage.get("outs", []))


def test_its_lock_holds_the_real_md5_of_code_after_a_repro(repo: BenchRepo, tmp_path: Path) -> None:
    work = _clone(repo, tmp_path)
    sha = repo.changed_commits[repo.changed_kinds.index("dvc.lock")]
    _git(work, "checkout", "--quiet", "--force", sha)
    lock = yaml.safe_load((work / "dvc.lock").read_text())
    code = {d["path"]: d["md5"] for s in lock["stages"].values() for d in s["deps"] if d["path"].startswith("src/")}
    assert code
    for path, md5 in code.items():
        assert hashlib.md5((work / path).read_bytes()).hexdigest() == md5, path


def test_it_reuses_the_repository_while_the_stamp_matches(tmp_path: Path) -> None:
    first = _small(tmp_path)
    lines: list[str] = []
    again = ensure_bench_repo(tmp_path, commits=COMMITS, dvc_commits=DVC_COMMITS, log=lines.append)
    assert again == first
    assert lines[0].startswith("Reusing")


def test_it_moves_main_back_to_the_stamped_head_when_reused(tmp_path: Path) -> None:
    first = _small(tmp_path)
    add_commits(first.path, 2)
    again = _small(tmp_path)
    assert _git(again.path, "rev-parse", "main").strip() == first.head
    assert _git(again.path, "status", "--porcelain") == ""


def test_it_rebuilds_for_other_parameters(tmp_path: Path) -> None:
    first = _small(tmp_path)
    other = _small(tmp_path, dvc_commits=DVC_COMMITS + 3)
    assert len(other.changed_commits) == DVC_COMMITS + 3
    assert other.head != first.head
    assert '"dvc_commits": 15' in (tmp_path / STAMP_NAME).read_text()


def test_it_adds_commits_that_each_change_one_dvc_file(tmp_path: Path) -> None:
    repo = _small(tmp_path)
    new = add_commits(repo.path, 3)
    assert _git(repo.path, "rev-list", f"{repo.head}..main").split() == new[::-1]
    for sha in new:
        changed = _git(repo.path, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split()
        assert len(changed) == 1 and changed[0].endswith(".csv.dvc")
    assert _git(repo.path, "status", "--porcelain") == ""
