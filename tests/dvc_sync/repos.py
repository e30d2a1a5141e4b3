"""Real git + DVC repositories for the DVC mirror's tests: corpus trees committed to git, and a small helper to
run git and the real ``dvc`` command line in them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CORPUS = Path(os.environ.get("DVC_CORPUS", ROOT.parent / "shared" / "dvc-corpus"))
ENTRIES = sorted(p.name for p in CORPUS.iterdir() if (p / "tree").is_dir()) if CORPUS.is_dir() else []
DVC = str(Path(sys.executable).parent / "dvc")
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}
GIT = ["git", "-c", "init.defaultBranch=main", "-c", "user.name=Test Author", "-c", "user.email=author@example.invalid"]


def run(args: list[str], cwd: Path, **env: str) -> str:
    """Run a command in ``cwd`` (``git …`` gets a fixed identity); return its output, failing loudly."""
    if args[0] == "git":
        args = [*GIT, *args[1:]]
    elif args[0] == "dvc":
        args = [DVC, *args[1:]]
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **IDENTITY, "DVC_NO_ANALYTICS": "1", **env}
    )
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr or done.stdout}"
    return done.stdout


def commit_tree(entry: str, work: Path, *, subdir: str = "") -> Path:
    """The corpus entry's tree committed in a fresh git repository at ``work`` (inside ``subdir`` if given), as the
    corpus README made it."""
    target = work / subdir if subdir else work
    # shared/ may be read-only (as CI lays it out): copy the files, not their permission bits.
    shutil.copytree(CORPUS / entry / "tree", target, copy_function=shutil.copyfile)
    for path in [work, *work.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    run(["git", "init", "-q"], work)
    run(["git", "add", "-A", "-f"], work)
    run(["git", "commit", "-q", "-m", "corpus tree"], work)
    return work
