"""A large, realistic DVC repository for the sync benchmark (``manage.py bench_dvc``).

``dvc add`` and ``dvc repro`` with real data would take hours for 2,000 commits, and even 2,000 ``git commit`` calls
take minutes, so the history (``history``) of the project (``project``) is written as one ``git fast-import``
stream: a few seconds. The finished repository is reused while the stamp file next to it holds the same parameters.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apps.dvc_sync.benchrepo.history import Commit, history
from apps.dvc_sync.benchrepo.project import BenchRepoSpec, dvc_file, initial_state, layout_for, random_data

REPO_NAME = "dvc-repo"
STAMP_NAME = "dvc-repo.bench.json"
BRANCH = "main"
EPOCH = 1_672_650_000  # 2023-01-02 09:00 UTC: the first commit; the history is fixed, not anchored to today
_AUTHORS = [
    ("Alice Martin", "alice@example.com"), ("Bob Okafor", "bob@example.com"), ("Carol Nguyen", "carol@example.com"),
    ("Dan Weber", "dan@example.com"), ("Erin Rossi", "erin@example.com"), ("Farid Haddad", "farid@example.com"),
]  # fmt: skip


class BenchRepoError(RuntimeError):
    """git could not build or extend the benchmark repository (its message holds git's output)."""


@dataclass(frozen=True)
class BenchRepo:
    """A generated repository: where it is, its branch head and the commits that change DVC files, oldest first."""

    path: Path
    head: str
    commits: int
    changed_commits: list[str]
    changed_kinds: list[str]  # beside changed_commits: init, .dvc, dvc.lock, params, foreach or dvc.yaml
    stages: int  # in the first commit's pipeline, after ``foreach`` expansion
    tracked: int  # ``.dvc`` files
    mix: dict[str, int] = field(default_factory=dict)  # commits by kind


# --- git -----------------------------------------------------------------------------------------------------------
def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise BenchRepoError(f"`git {' '.join(args)}` failed in {repo}:\n{done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _stream(commits: Iterator[Commit], *, start: int, parent: str | None) -> Iterator[bytes]:
    """``git fast-import`` commands for ``commits`` on ``main``, marked 1, 2, …; the first one's parent is
    ``parent`` (a ref or sha; None for a root commit), the others follow each other. ``start`` is the first one's
    place in the whole history: authors rotate and each commit comes about an hour after the one before."""
    for n, commit in enumerate(commits):
        name, email = _AUTHORS[(start + n) % len(_AUTHORS)]
        when = EPOCH + (start + n) * 3_600 + (start + n) * 7_919 % 2_700
        head = [f"commit refs/heads/{BRANCH}", f"mark :{n + 1}", f"author {name} <{email}> {when} +0000",
                f"committer {name} <{email}> {when} +0000"]  # fmt: skip
        parts = ["\n".join(head).encode() + b"\n", _data(commit.message)]
        if n == 0 and parent is not None:
            parts.append(f"from {parent}\n".encode())
        for path, content in sorted(commit.files.items()):
            parts.append(f"D {path}\n".encode() if content is None else f"M 100644 inline {path}\n".encode())
            if content is not None:
                parts.append(_data(content))
        parts.append(b"\n")
        yield b"".join(parts)


def _fast_import(repo: Path, stream: bytes) -> dict[int, str]:
    """Feed ``stream`` to ``git fast-import`` in ``repo``, bring the work tree to the branch head, and return the
    new commits' shas by mark."""
    marks = repo / ".git" / "bench-marks"
    _git(repo, "fast-import", "--quiet", f"--export-marks={marks}", stdin=stream)
    _git(repo, "reset", "--hard", "--quiet")
    found = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        found[int(mark[1:])] = sha
    marks.unlink()
    return found


def _build(path: Path, spec: BenchRepoSpec) -> tuple[list[str], list[str], list[str]]:
    """Write the history into a new repository at ``path``. Returns (all shas, DVC-changing shas, every commit's
    kind), oldest first."""
    _git(path.parent, "-c", f"init.defaultBranch={BRANCH}", "init", "--quiet", str(path))
    kinds: list[str] = []

    def recorded() -> Iterator[Commit]:
        for commit in history(spec):
            kinds.append(commit.kind)
            yield commit

    shas = _fast_import(path, b"".join(_stream(recorded(), start=0, parent=None)))
    ordered = [shas[i + 1] for i in range(len(kinds))]
    changed = [sha for sha, kind in zip(ordered, kinds, strict=True) if kind != "code"]
    return ordered, changed, kinds


def ensure_bench_repo(
    folder: Path,
    *,
    commits: int = 2_000,
    dvc_commits: int = 300,
    stages: int = 40,
    tracked: int = 100,
    log: Callable[[str], Any] = print,
) -> BenchRepo:
    """Return the generated repository ``folder/dvc-repo``: ``commits`` commits on ``main``, of which
    ``dvc_commits`` (the first included) change DVC files, a pipeline of ``stages`` stages after ``foreach``
    expansion and ``tracked`` ``.dvc`` files, checked out at its head.

    Reused when the stamp file next to it holds the same parameters; ``main`` is then moved back to the stamped head
    (``add_commits`` moves it on). Otherwise it is rebuilt in a temporary folder and moved into place, so a
    half-built repository is never reused. Refuses (``ValueError``) fewer than 13 stages, fewer tracked files than
    the ``foreach`` list has items + 1, or ``dvc_commits`` not within 1..``commits``; raises ``BenchRepoError`` when
    git fails.
    """
    if not 1 <= dvc_commits <= commits:
        raise ValueError("dvc_commits must be between 1 and commits.")
    spec = BenchRepoSpec(commits=commits, dvc_commits=dvc_commits, stages=stages, tracked=tracked)
    layout = layout_for(spec)
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REPO_NAME
    stamp = folder / STAMP_NAME
    reused = _reuse(path, stamp, spec, log)
    if reused is not None:
        return reused
    stamp.unlink(missing_ok=True)
    started = time.perf_counter()
    log(f"Building the benchmark repository {path} ({commits:,} commits, {dvc_commits} changing DVC files)…")
    tmp = folder / (REPO_NAME + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ordered, changed, kinds = _build(tmp, spec)
    mix: dict[str, int] = {}
    for kind in kinds:
        mix[kind] = mix.get(kind, 0) + 1
    n_stages = len(initial_state(spec, layout).stages())
    shutil.rmtree(path, ignore_errors=True)
    tmp.replace(path)
    elapsed = time.perf_counter() - started
    repo = BenchRepo(
        path=path, head=ordered[-1], commits=len(ordered), changed_commits=changed,
        changed_kinds=[k for k in kinds if k != "code"], stages=n_stages, tracked=len(layout.tracked), mix=mix,
    )  # fmt: skip
    held = {**asdict(repo), "path": str(path), "spec": asdict(spec), "seconds": round(elapsed, 1)}
    stamp.write_text(json.dumps({**held, "made_at": time.strftime("%F %T")}, indent=2) + "\n")
    log(f"  built in {elapsed:.1f} s: {n_stages} stages, {repo.tracked} tracked files, commits by kind {mix}")
    return repo


def _reuse(path: Path, stamp: Path, spec: BenchRepoSpec, log: Callable[[str], Any]) -> BenchRepo | None:
    """The stamped repository at ``path`` if the stamp holds ``spec`` and its head commit is there; ``main`` is
    moved back to that head first. None when it must be rebuilt."""
    if not (path / ".git").is_dir() or not stamp.is_file():
        return None
    try:
        held = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if held.get("spec") != asdict(spec):
        return None
    head = held["head"]
    try:
        _git(path, "cat-file", "-e", f"{head}^{{commit}}")
        if _git(path, "rev-parse", f"refs/heads/{BRANCH}").strip() != head:
            _git(path, "update-ref", f"refs/heads/{BRANCH}", head)
            log(f"Moved {BRANCH} of the benchmark repository back to {head[:12]} (commits added by an earlier run).")
        _git(path, "checkout", "--quiet", "--force", BRANCH)
        _git(path, "reset", "--hard", "--quiet")
    except BenchRepoError:
        return None
    log(f"Reusing the benchmark repository {path} ({spec.commits:,} commits, made {held.get('made_at', '?')}).")
    return BenchRepo(
        path=path, head=head, commits=held["commits"], changed_commits=list(held["changed_commits"]),
        changed_kinds=list(held["changed_kinds"]), stages=held["stages"], tracked=held["tracked"],
        mix=dict(held["mix"]),
    )  # fmt: skip


def add_commits(repo_path: Path, n: int = 10) -> list[str]:
    """Append ``n`` commits to ``main`` of the repository at ``repo_path``, each updating one ``.dvc`` file (new
    md5 and size, as a fresh ``dvc add`` would), and check the new head out. Returns the new shas, oldest first.
    Which files change follows from the current head (deterministic). Refuses (``ValueError``) a repository without
    ``.dvc`` files; raises ``BenchRepoError`` when git fails. ``n`` below 1 adds nothing."""
    if n < 1:
        return []
    head = _git(repo_path, "rev-parse", f"refs/heads/{BRANCH}").strip()
    files = sorted(p for p in _git(repo_path, "ls-tree", "-r", "--name-only", head).splitlines() if p.endswith(".dvc"))
    if not files:
        raise ValueError(f"{repo_path} has no .dvc files at {head[:12]}.")
    rng = random.Random(int(head[:16], 16))
    start = int(_git(repo_path, "rev-list", "--count", head).strip())
    commits = []
    for _ in range(n):
        path = rng.choice(files)
        data = path.removesuffix(".dvc")
        content = dvc_file(data, *random_data(rng))
        commits.append(Commit(".dvc", f"Update {data}", {path: content}))
    shas = _fast_import(repo_path, b"".join(_stream(iter(commits), start=start, parent=f"refs/heads/{BRANCH}^0")))
    return [shas[i + 1] for i in range(n)]
