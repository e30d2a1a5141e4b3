"""The product's own clone of a DVC source's git repository, driven through the ``git`` command.

The clone lives under ``var/repos/`` and is the only work tree the sync ever checks out: the user's repository is
only fetched from. Everything here returns plain data; git's failures become ``SyncError``/``SourceError`` with
git's own message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apps.core.errors import SourceError, SyncError

URL_PATTERN = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
GIT_TIMEOUT = 600
_FIELD = "\x1f"
_RECORD = "\x1e"


@dataclass(frozen=True)
class GitRef:
    kind: str  # "branch" or "tag"
    name: str
    sha: str  # the commit it points to (annotated tags peeled)
    tagger_name: str = ""
    tagger_email: str = ""
    tagged_at: datetime | None = None
    message: str = ""


@dataclass
class CommitInfo:
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committed_at: datetime
    message: str
    changed: list[str] = field(default_factory=list)  # paths changed against the first parent (all, for a root)


def is_url(location: str) -> bool:
    return bool(URL_PATTERN.match(location))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Never prompt for credentials in a worker or a web request; never let the user's git config redirect hooks.
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"})
    return env


def git(args: Sequence[str], *, cwd: Path | None = None, check: bool = True, input_text: str | None = None) -> str:
    """Run git and return its standard output; raise ``SyncError`` naming git's message when it fails."""
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", "-c", "advice.detachedHead=false", *args],
            cwd=cwd,
            env=_env(),
            input=input_text,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            timeout=GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise SyncError(f"git {args[0]} took longer than {GIT_TIMEOUT} s.") from exc
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise SyncError(f"git {args[0]} failed: {' '.join(message[-3:]) or f'exit {done.returncode}'}")
    return done.stdout


def check_location(location: str) -> str:
    """The location as it will be stored: a URL as given, a local path made absolute. Refuses a local path that
    does not exist or is not a git repository (``SourceError`` with the reason); a URL is checked on its first sync,
    since reaching it may need credentials only the syncing process has."""
    location = location.strip()
    if not location:
        raise SourceError("Give the path or URL of the git repository.")
    if is_url(location):
        return location
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = path.resolve()
    if not path.exists():
        raise SourceError(f"{path} does not exist.", hint="Give the absolute path of a git repository, or a git URL.")
    if not path.is_dir():
        raise SourceError(f"{path} is not a folder.", hint="Give the folder of a git repository.")
    inside = git(["rev-parse", "--is-inside-work-tree", "--is-bare-repository"], cwd=path, check=False).split()
    if "true" not in inside:
        raise SourceError(
            f"{path} is not a git repository.", hint="DVC sources are git repositories: run `git init` there first."
        )
    return str(path)


def fetch(location: str, clone: Path) -> None:
    """Create the clone on first use, then fetch every branch and tag of ``location`` into it (forced, pruned):
    branches as ``refs/remotes/origin/*``, tags as ``refs/tags/*``. A shallow source gives a shallow clone."""
    if not (clone / ".git").is_dir():
        if clone.exists():
            shutil.rmtree(clone)
        clone.parent.mkdir(parents=True, exist_ok=True)
        source = location
        if not is_url(location) and (Path(location) / ".git" / "shallow").exists():
            source = Path(location).as_uri()  # git clones a shallow local repository only over a transport
        git(["clone", "--quiet", "--no-checkout", "--no-tags", source, str(clone)])
        git(["config", "gc.auto", "0"], cwd=clone)
    else:
        git(["remote", "set-url", "origin", location], cwd=clone)
    git(
        [
            "fetch", "--quiet", "--force", "--prune", "--prune-tags", "origin",
            "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*",
        ],
        cwd=clone,
    )  # fmt: skip
    git(["remote", "set-head", "origin", "--auto"], cwd=clone, check=False)


def refs(clone: Path) -> tuple[list[GitRef], str]:
    """The clone's branches and tags (tags peeled to their commit, with tagger and message when annotated) and
    the name of the default branch (the one the source's HEAD points to; "" when unknown)."""
    fmt = _FIELD.join(
        [
            "%(refname)", "%(objecttype)", "%(objectname)", "%(*objectname)", "%(taggername)",
            "%(taggeremail:trim)", "%(taggerdate:unix)", "%(contents)",
        ]
    )  # fmt: skip
    out = git(["for-each-ref", f"--format={fmt}{_RECORD}", "refs/remotes/origin", "refs/tags"], cwd=clone)
    found: list[GitRef] = []
    for record in out.split(_RECORD):
        record = record.lstrip("\n")
        if not record:
            continue
        refname, objtype, sha, peeled, tagger, email, date, message = record.split(_FIELD)
        if refname.startswith("refs/remotes/origin/"):
            name = refname.removeprefix("refs/remotes/origin/")
            if name != "HEAD" and objtype == "commit":
                found.append(GitRef(kind="branch", name=name, sha=sha))
        elif objtype == "tag":
            if peeled:
                found.append(
                    GitRef(
                        kind="tag",
                        name=refname.removeprefix("refs/tags/"),
                        sha=peeled,
                        tagger_name=tagger,
                        tagger_email=email,
                        tagged_at=datetime.fromtimestamp(int(date), UTC) if date.isdigit() else None,
                        message=message.strip(),
                    )
                )
        elif objtype == "commit":
            found.append(GitRef(kind="tag", name=refname.removeprefix("refs/tags/"), sha=sha))
    head = git(["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], cwd=clone, check=False).strip()
    return found, head.removeprefix("refs/remotes/origin/")


def existing(clone: Path, shas: Sequence[str]) -> set[str]:
    """Which of ``shas`` are commits the clone has."""
    if not shas:
        return set()
    out = git(["cat-file", "--batch-check"], cwd=clone, input_text="".join(f"{s}^{{commit}}\n" for s in shas))
    have = set()
    for sha, line in zip(shas, out.splitlines(), strict=False):
        if not line.endswith("missing"):
            have.add(sha)
    return have


def shallow_commits(clone: Path) -> set[str]:
    """The commits at the clone's shallow boundary (their parents were not fetched)."""
    shallow = clone / ".git" / "shallow"
    return set(shallow.read_text().split()) if shallow.exists() else set()


def new_commits(clone: Path, tips: Sequence[str], known: Sequence[str]) -> Iterator[CommitInfo]:
    """Commits reachable from ``tips`` but not from ``known``, parents before children, each with the paths it
    changed against its first parent (merges included, compared with their first parent)."""
    if not tips:
        return
    fmt = _RECORD + _FIELD.join(["%H", "%P", "%an", "%ae", "%at", "%ct", "%B"]) + _FIELD
    args = [
        "log", "--topo-order", "--reverse", "--no-renames", "--diff-merges=first-parent", "--name-only", "-z",
        f"--format={fmt}", *tips, "--not", *known, "--",
    ]  # fmt: skip
    process = subprocess.Popen(
        ["git", "-c", "core.quotepath=off", *args],
        cwd=clone,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    data = process.stdout.read().decode("utf-8", "replace")  # messages and names are stored: no lone surrogates
    err = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if process.wait() != 0:
        raise SyncError(f"git log failed: {err.strip()}")
    for record in data.split(_RECORD)[1:]:
        sha, parents, an, ae, at, ct, rest = record.split(_FIELD, 6)
        message, _, names = rest.rpartition(_FIELD)
        if not _:
            message, names = rest, ""
        yield CommitInfo(
            sha=sha,
            parents=parents.split(),
            author_name=an,
            author_email=ae,
            authored_at=datetime.fromtimestamp(int(at), UTC),
            committed_at=datetime.fromtimestamp(int(ct), UTC),
            message=message.rstrip("\n"),
            changed=[n.strip("\n") for n in names.split("\0") if n.strip("\n")],
        )


def reachable(clone: Path, tips: Sequence[str]) -> set[str]:
    """Every commit reachable from ``tips``."""
    if not tips:
        return set()
    return set(git(["rev-list", *tips], cwd=clone).split())


def blobs(clone: Path, sha: str, paths: Sequence[str] | None = None) -> dict[str, str]:
    """``{path: blob sha}`` of the files at commit ``sha``: all of them, or those of ``paths`` that exist."""
    if paths is not None and not paths:
        return {}
    if paths is not None and len(paths) > 1000:  # keep the command line short: list everything, then pick
        wanted = set(paths)
        return {p: b for p, b in blobs(clone, sha).items() if p in wanted}
    out = git(["ls-tree", "-r", "-z", "--full-tree", sha, "--", *(paths or [])], cwd=clone)
    found: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, blob = meta.split()
        if kind == "blob":
            found[path] = blob
    return found


def checkout(clone: Path, sha: str) -> None:
    """Make the clone's work tree exactly commit ``sha`` (files of other commits removed; ignored files kept)."""
    git(["checkout", "--quiet", "--force", "--detach", sha], cwd=clone)
    git(["clean", "--quiet", "--force", "-d"], cwd=clone)
