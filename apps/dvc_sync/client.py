"""The one place that imports ``dvc`` and ``gto``: DVC's own view of a checked-out tree, and GTO's registry.

DVC's YAML semantics (``foreach``, ``matrix``, ``vars`` and ``${}`` templating, nested ``dvc.yaml`` files, ``wdir``,
params files, imports) and its ``.gitignore``/``.dvcignore`` rules are applied by DVC itself, never re-implemented.
Everything returned is plain data (``records.py``, ``graphs.py``); a file DVC cannot load becomes a ``Problem``
naming the file, the line where known and DVC's message, and the rest of the tree still loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from apps.core.errors import SyncError
from apps.dvc_sync.graphs import Graph, Pipeline
from apps.dvc_sync.records import TrackedData

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

MAX_FILE_BYTES = 5 * 1024 * 1024  # a DVC file larger than this is refused unread, as no real one comes near it
MAX_YAML_NODES = 1_000_000  # nodes after alias expansion: a "billion laughs" file stops here, not in DVC
DVC_FILE_NAMES = ("dvc.yaml", "dvc.lock")
YAML_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[\w-]", re.MULTILINE)
YAML_ALIAS = re.compile(r"(?:^|[\s\[{,])\*[\w-]", re.MULTILINE)
CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})(\s|$)", re.MULTILINE)


@dataclass(frozen=True)
class Problem:
    """A file that could not be loaded at a commit: its path (from the repository's top), the line where known,
    and the reason (DVC's message where DVC refused it)."""

    path: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class StageInfo:
    """A stage as DVC loads it: its address (``train``, ``sub/dvc.yaml:join``, ``stage@value``, a ``.dvc`` file),
    cmd, wdir, params with their locked values, and deps/outs with their locked hashes."""

    address: str
    dvcfile: str
    cmd: str = ""
    wdir: str = ""
    desc: str = ""
    frozen: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    deps: list[dict[str, Any]] = field(default_factory=list)
    outs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dvcfile": self.dvcfile, "cmd": self.cmd, "wdir": self.wdir, "desc": self.desc, "frozen": self.frozen,
            "params": self.params, "deps": self.deps, "outs": self.outs,
        }  # fmt: skip


@dataclass
class FileResult:
    """What one DVC file (a ``.dvc`` file, or a ``dvc.yaml`` with its ``dvc.lock``) contributes at a commit.
    ``watched`` are the other files whose content decided it (params and ``vars`` files); ``structure`` changes
    exactly when its contribution to the pipeline graph may change (stage names, dep and out paths)."""

    path: str
    stages: list[StageInfo] = field(default_factory=list)
    data: list[TrackedData] = field(default_factory=list)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    watched: list[str] = field(default_factory=list)
    structure: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return not any(p.path == self.path or p.path == lock_of(self.path) for p in self.problems)


def lock_of(path: str) -> str:
    """The ``dvc.lock`` beside a ``dvc.yaml`` ("" for any other file)."""
    return path[: -len("dvc.yaml")] + "dvc.lock" if path.endswith("dvc.yaml") else ""


def owner_of(path: str) -> str:
    """The DVC file that loads ``path``: the ``dvc.yaml`` beside a ``dvc.lock``, any other file itself."""
    return path[: -len("dvc.lock")] + "dvc.yaml" if path.endswith("dvc.lock") else path


def is_dvc_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name in DVC_FILE_NAMES or (name.endswith(".dvc") and len(name) > 4)


# --- guarding DVC against hostile files ----------------------------------------------------------------------------
def _yaml_nodes(text: str) -> int:
    """How many nodes the YAML document holds once aliases are expanded, counted over parser events (linear in the
    text); stops counting past ``MAX_YAML_NODES``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = [(None, 0)]
    for event in YAML(typ="safe").parse(text):
        if isinstance(event, ScalarEvent):
            count = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, AliasEvent):
            count = sizes.get(event.anchor, 1)
        elif isinstance(event, CollectionStartEvent):
            stack.append((event.anchor, 0))
            continue
        elif isinstance(event, CollectionEndEvent):
            anchor, inner = stack.pop()
            count = inner + 1
            if anchor:
                sizes[anchor] = count
        else:
            continue
        name, total = stack[-1]
        stack[-1] = (name, total + count)
        if stack[-1][1] > MAX_YAML_NODES:
            return stack[-1][1]
    return stack[0][1]


def precheck(path: Path, shown: str) -> Problem | None:
    """Refuse, before DVC reads it, a file DVC would choke on: larger than ``MAX_FILE_BYTES``, not UTF-8, or YAML
    that expands past ``MAX_YAML_NODES`` nodes (a "billion laughs" bomb)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size > MAX_FILE_BYTES:
        return Problem(shown, f"{size / 1e6:.1f} MB: larger than the {MAX_FILE_BYTES / 1e6:.0f} MB a DVC file may be")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Problem(shown, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line)
    if YAML_ANCHOR.search(text) and YAML_ALIAS.search(text):
        try:
            nodes = _yaml_nodes(text)
        except Exception:  # a syntax error: DVC reports it with its own message below
            return None
        if nodes > MAX_YAML_NODES:
            return Problem(shown, f"YAML aliases expand to more than {MAX_YAML_NODES:,} nodes (a YAML bomb)")
    return None


def _problem_of(exc: BaseException, shown: str) -> Problem:
    """DVC's message for a file it refused, with the line of the YAML error where DVC's cause carries one."""
    from dvc.exceptions import DvcException

    line = None
    parts = [
        str(exc).strip() if isinstance(exc, DvcException) else f"DVC could not load it ({type(exc).__name__}: {exc})"
    ]
    cause: BaseException | None = exc
    for _ in range(4):
        cause = getattr(cause, "exc", None) or (cause.__cause__ if cause else None)
        if cause is None:
            break
        mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
        if mark is not None and line is None:
            line = int(mark.line) + 1
        text = str(cause).strip()
        if text and text not in parts[-1]:
            parts.append(" ".join(text.split()))
    message = ": ".join(parts)
    match = re.search(r"line (\d+)", message) if line is None else None
    if match:
        line = int(match.group(1))
    marker = CONFLICT_MARKER.search(getattr(exc, "yaml_text", "") or "")
    if marker:  # the parser stumbles a line or more after the marker: point at the marker itself
        line = exc.yaml_text.count("\n", 0, marker.start()) + 1  # type: ignore[attr-defined]
    return Problem(shown, message[:2000], line)


def redact_url(url: str) -> str:
    """A remote URL without user name or password (``s3://bucket/x``, ``https://host/x``); credentials are never
    read or stored."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


# --- labels --------------------------------------------------------------------------------------------------------
def _label(node: Any, root: str) -> str:
    """DVC's own names for graph nodes (``Stage.addressing``, ``str(Output)``), taken relative to the DVC root as
    ``dvc dag`` run there shows them, not to this process's working directory."""
    from dvc.dvcfile import PROJECT_FILE
    from dvc.stage import PipelineStage, Stage

    if isinstance(node, Stage):
        if not node.path:
            return node.addressing
        path = os.path.relpath(node.path, root)
        if isinstance(node, PipelineStage):
            return node.name if path == PROJECT_FILE else f"{path}:{node.name}"
        return path
    if node.fs.protocol != "local" or os.path.isabs(node.def_path) or "://" in str(node.def_path):
        return str(node.def_path)
    if not node.fs.isin(node.fs_path, root):
        return str(node.fs_path)
    return str(node.fs.relpath(node.fs_path, root))


def _graph(dvc_graph: Any, root: str) -> Graph:
    """DVC's graphs point from a stage to what it depends on; ``dvc dag`` prints them reversed, downstream."""
    return Graph(
        nodes=frozenset(_label(n, root) for n in dvc_graph.nodes),
        edges=frozenset((_label(dep, root), _label(stage, root)) for stage, dep in dvc_graph.edges),
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _hash_entry(item: Any, base: str) -> dict[str, Any]:
    info = item.hash_info
    meta = item.meta
    return {
        "path": _label(item, base),
        "hash": (info.name or "") if info else "",
        "md5": str(info.value) if info and info.value else "",
        "size": meta.size if meta else None,
    }


def _stage_result(stage: Any, base: str) -> tuple[StageInfo, list[TrackedData], list[Problem]]:
    """Plain data for one loaded DVC stage: its description, the data it pins and what is wrong with it (an
    output with no hash: DVC treats it as never committed, so no version of it can be named)."""
    from dvc.dependency.param import ParamsDependency

    address = _label(stage, base)
    dvcfile = os.path.relpath(stage.path, base) if stage.path else ""
    cmd = stage.cmd if isinstance(stage.cmd, str) else "\n".join(map(str, stage.cmd or []))
    info = StageInfo(
        address=address,
        dvcfile=dvcfile,
        cmd=cmd or "",
        wdir=os.path.relpath(stage.wdir, base) if stage.wdir else ".",
        desc=str(stage.desc or ""),
        frozen=bool(stage.frozen),
    )
    source: dict[str, str] = {}
    if stage.is_import and stage.deps:
        dep = stage.deps[0]
        def_repo = getattr(dep, "def_repo", None) or {}
        source = {
            "import_url": str(def_repo.get("url") or dep.def_path),
            "import_rev": str(def_repo.get("rev") or ""),
            "import_rev_lock": str(def_repo.get("rev_lock") or ""),
            "import_path": str(dep.def_path) if def_repo else "",
        }
    data: list[TrackedData] = []
    problems: list[Problem] = []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            values = dep.hash_info.value if dep.hash_info and isinstance(dep.hash_info.value, dict) else {}
            keys = dep.params or list(values)
            info.params[_label(dep, base)] = _jsonable({k: values.get(k) for k in keys})
        else:
            info.deps.append(_hash_entry(dep, base))
    info.outs = [_hash_entry(out, base) for out in stage.outs]
    for role, items in (("out", stage.outs), ("dep", [] if stage.is_import else stage.deps)):
        for item in items:
            if isinstance(item, ParamsDependency):
                continue
            hash_info, meta = item.hash_info, item.meta
            value = str(hash_info.value or "") if hash_info and hash_info.value else ""
            if not value:
                if role == "out" and not stage.path.endswith("dvc.yaml") and item.use_cache:
                    problems.append(
                        Problem(
                            os.path.relpath(stage.path, base),
                            f"'{_label(item, base)}' has no md5: DVC treats it as never committed, so no version "
                            "of it is pinned here",
                        )
                    )
                continue
            data.append(
                TrackedData(
                    path=_label(item, base),
                    role=role,
                    stage=address,
                    dvcfile=dvcfile,
                    hash_name=(hash_info.name or "") if hash_info else "",
                    hash_value=value,
                    size=meta.size if meta else None,
                    nfiles=meta.nfiles if meta else None,
                    isdir=bool(meta and meta.isdir) or bool(hash_info and hash_info.isdir),
                    frozen=bool(stage.frozen),
                    **(source if role == "out" else {}),
                )
            )
    return info, data, problems


def _structure(stages: Iterable[StageInfo]) -> str:
    shape = sorted(
        (s.address, sorted(d["path"] for d in s.deps), sorted(o["path"] for o in s.outs), sorted(s.params))
        for s in stages
    )
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


class TreeReader:
    """DVC opened on the clone's work tree for one sync, re-read after each checkout (``refresh``).

    Paths given and returned are relative to the repository's top; ``root`` is the DVC project's folder in it.
    ``load_file`` loads one DVC file; ``load_all`` collects every DVC file DVC itself would (``.dvcignore`` and
    ``.gitignore`` applied, nothing inside another stage's output), reusing what ``cache_key`` says is unchanged,
    and builds the pipeline graph unless told it is known."""

    def __init__(self, worktree: Path, root: str = "") -> None:
        self.worktree = worktree
        self.root = root
        self.dvc_root = worktree / root if root else worktree
        self._repo: Any = None
        self._indexes: dict[tuple[str, str], tuple[Any, FileResult]] = {}

    def __enter__(self) -> TreeReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        self._indexes.clear()  # the cached stages belong to the closed repository object

    def _top(self, dvc_path: str) -> str:
        return f"{self.root}/{dvc_path}" if self.root else dvc_path

    def _dvc(self, top_path: str) -> str:
        return top_path[len(self.root) + 1 :] if self.root else top_path

    @property
    def has_project(self) -> bool:
        return (self.dvc_root / ".dvc").is_dir()

    def refresh(self) -> None:
        """Forget what DVC read from the previous checkout (config, ignore rules); keep the per-file cache."""
        if self._repo is not None:
            if self.has_project:
                self._repo._reset()
            else:
                self.close()

    def repo(self) -> Any:
        from dvc.exceptions import DvcException
        from dvc.repo import Repo

        if self._repo is None:
            try:
                self._repo = Repo(str(self.dvc_root), config={"core": {"analytics": False, "check_update": False}})
            except DvcException as exc:
                raise SyncError(f"DVC could not open the project in {self.root or 'the repository'}: {exc}") from exc
        return self._repo

    def remotes(self) -> tuple[dict[str, str], list[Problem]]:
        """``{name: url}`` of the remotes in ``.dvc/config`` (credentials left out, never read)."""
        from dvc.exceptions import DvcException

        try:
            config = self.repo().config
            remotes = config.get("remote", {})
            return {name: redact_url(str(conf.get("url", ""))) for name, conf in remotes.items()}, []
        except DvcException as exc:
            return {}, [self._clean(_problem_of(exc, self._top(".dvc/config")))]

    def _load(self, dvc_path: str) -> tuple[Any, FileResult]:
        from dvc.dependency.param import ParamsDependency
        from dvc.dvcfile import load_file
        from dvc.repo.index import Index

        repo = self.repo()
        base = repo.root_dir
        full = os.path.join(base, dvc_path)
        result = FileResult(path=self._top(dvc_path))
        for candidate in (dvc_path, lock_of(dvc_path)):
            if candidate:
                problem = precheck(Path(base) / candidate, self._top(candidate))
                if problem:
                    result.problems.append(problem)
                    return None, result
        if dvc_path.endswith("dvc.yaml"):
            params = Path(base) / os.path.dirname(dvc_path) / "params.yaml"
            problem = precheck(params, self._top(os.path.relpath(params, base)))
            if problem:
                result.problems.append(problem)
                return None, result
        try:
            dvcfile = load_file(repo, full)
            stages = list(dvcfile.stages.values())
            index = Index(repo, stages=stages, artifacts={full: dvcfile.artifacts} if dvcfile.artifacts else {})
            watched: set[str] = set()
            for stage in stages:
                stage_info, data, problems = _stage_result(stage, base)
                result.stages.append(stage_info)
                result.data.extend(data)
                result.problems.extend(replace(p, path=self._top(p.path)) for p in problems)
                for dep in stage.deps:
                    if isinstance(dep, ParamsDependency) and dep.fs.protocol == "local":
                        watched.add(os.path.relpath(dep.fs_path, base))
            if dvc_path.endswith("dvc.yaml"):
                resolver = dvcfile.resolver
                watched.add(os.path.normpath(os.path.join(os.path.dirname(dvc_path), "params.yaml")))
                for imported in getattr(resolver.context, "imports", {}):
                    watched.add(os.path.relpath(os.path.abspath(imported), base))
                for name, artifact in (dvcfile.artifacts or {}).items():
                    result.artifacts[name] = {**_jsonable(artifact), "dvcfile": dvc_path}
        except Exception as exc:  # any failure to load one file (DVC raises more than DvcException) is its problem
            shown = self._top(dvc_path)
            if "lock" in type(exc).__name__.lower() or "dvc.lock" in str(exc):
                shown = self._top(lock_of(dvc_path) or dvc_path)
            result.problems.append(self._clean(_problem_of(exc, shown)))
            return None, result
        result.watched = sorted(self._top(w) for w in watched if not w.startswith(".."))
        result.structure = _structure(result.stages)
        return index, result

    def _clean(self, problem: Problem) -> Problem:
        """DVC names files by their path from this process's working directory: show them from the DVC root."""
        message = problem.message
        # The relative form first: it ends with the absolute one's text ("../../tmp/x" holds "/tmp/x").
        for prefix in (os.path.relpath(self.dvc_root), str(self.dvc_root)):
            message = message.replace(prefix + os.sep, "").replace(prefix, ".")
        return replace(problem, message=message)

    def load_file(self, top_path: str, cache_key: str) -> FileResult:
        """Load one DVC file (with its ``dvc.lock``) as it is in the work tree; a problem, never an exception."""
        return self._cached(self._dvc(top_path), cache_key)[1]

    def _cached(self, dvc_path: str, cache_key: str) -> tuple[Any, FileResult]:
        key = (dvc_path, cache_key)
        if key not in self._indexes:
            self._indexes[key] = self._load(dvc_path)
        return self._indexes[key]

    def collect(self, cache_key: Callable[[str], str]) -> list[tuple[Any, FileResult]]:
        """Every DVC file DVC collects in this tree, in DVC's order: what ``dvc.repo.index.collect_files`` walks
        (``.dvcignore`` applied by DVC's walker, git-ignored files and folders skipped, nothing inside an output
        of a file collected before), each loaded through the per-file cache."""
        from dvc.dvcfile import is_valid_filename

        repo = self.repo()
        fs, scm, sep = repo.fs, repo.scm, repo.fs.sep
        outs: set[str] = set()
        found: list[tuple[Any, FileResult]] = []
        for root, dirs, files in repo.dvcignore.walk(fs, repo.root_dir, followlinks=False):
            for file in files:
                path = f"{root}{sep}{file}"
                if not is_valid_filename(file) or scm.is_ignored(path):
                    continue
                dvc_path = os.path.relpath(path, repo.root_dir)
                index, result = self._cached(dvc_path, cache_key(self._top(dvc_path)))
                found.append((index, result))
                if index is not None:
                    outs.update(o.fspath for s in index.stages for o in s.outs if o.protocol == "local")
            dirs[:] = [d for d in dirs if f"{root}{sep}{d}" not in outs and not scm.is_ignored(f"{root}{sep}{d}{sep}")]
        return found

    def pipeline(self, indexes: list[Any]) -> tuple[Pipeline | None, list[Problem]]:
        """The stage and outputs graphs of the loaded files together, as ``dvc dag`` and ``dvc dag --outs`` show
        them; a problem instead when DVC refuses the whole (a cycle, overlapping outputs)."""
        from dvc.exceptions import DvcException
        from dvc.repo.index import Index

        repo = self.repo()
        try:
            index = Index.from_indexes(repo, [i for i in indexes if i is not None])
            return Pipeline(
                stages=_graph(index.graph, repo.root_dir), outputs=_graph(index.outs_graph, repo.root_dir)
            ), []
        except DvcException as exc:
            return None, [self._clean(_problem_of(exc, self._top("dvc.yaml")))]


# --- whole trees (the corpus and the demo are read this way) ---------------------------------------------------------
def pipeline_of_tree(root: Path) -> Pipeline:
    """The pipeline DVC sees in the checked-out tree at ``root`` (a DVC root: the repository's, or a subproject's),
    exactly as ``dvc dag`` and ``dvc dag --outs`` show it there. Raises ``SyncError`` with DVC's reason when the
    tree's DVC files do not load (a malformed dvc.yaml or dvc.lock, a missing params file, a cycle)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root), config={"core": {"analytics": False, "check_update": False}}) as repo:
            index = repo.index
            return Pipeline(stages=_graph(index.graph, repo.root_dir), outputs=_graph(index.outs_graph, repo.root_dir))
    except DvcException as exc:
        raise SyncError(
            f"DVC could not load the pipeline in {root}: {exc}",
            hint="Fix the DVC files of that commit; other commits are recorded as usual.",
        ) from exc


def tracked_data_of_tree(root: Path) -> list[TrackedData]:
    """Every output and data dependency the DVC files in the checked-out tree at ``root`` pin, with DVC's hash
    (md5, ``.dir`` for directories), size and file count, the frozen flag and import sources (``repo.url``, ``rev``,
    ``rev_lock`` for ``dvc import``; the URL for ``dvc import-url``). Params dependencies are not data and are left
    out. Raises ``SyncError`` when the tree's DVC files do not load."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    found: list[TrackedData] = []
    try:
        with Repo(str(root), config={"core": {"analytics": False, "check_update": False}}) as repo:
            for stage in repo.index.stages:
                found.extend(_stage_result(stage, repo.root_dir)[1])
    except DvcException as exc:
        raise SyncError(
            f"DVC could not load the DVC files in {root}: {exc}",
            hint="Fix the DVC files of that commit; other commits are recorded as usual.",
        ) from exc
    return found


# --- GTO -------------------------------------------------------------------------------------------------------------
GTO_ACTIONS = {
    "registration": "register",
    "deregistration": "deregister",
    "assignment": "assign",
    "unassignment": "unassign",
    "deprecation": "deprecate",
}


def gto_registry(clone: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Problem]]:
    """GTO's reading of the clone's git tags: every event (registrations, stage assignments, deregistrations,
    unassignments, deprecations, with tagger, time and message) and which version is in which stage now, as
    GTO computes it. Tags GTO cannot parse are ignored by GTO itself."""
    from gto import api
    from gto.exceptions import GTOException

    try:
        history = api.history(str(clone))
        events = [
            {
                "artifact": str(e["artifact"]),
                "action": GTO_ACTIONS[e["event"]],
                "version": str(e.get("version") or ""),
                "stage": str(e.get("stage") or ""),
                "tag": str(e["ref"]),
                "sha": str(e["commit"]),
                "created_at": e["timestamp"],
                "author": str(e.get("author") or ""),
                "author_email": str(e.get("author_email") or ""),
                "message": str(e.get("message") or ""),
            }
            for e in history
            if e.get("event") in GTO_ACTIONS and e.get("ref")
        ]
        stages: list[dict[str, Any]] = []
        for name in sorted({e["artifact"] for e in events}):
            for version in api.show(str(clone), name):
                for stage in version.get("stages", []):
                    if not stage.get("is_active", True):
                        continue
                    stages.append(
                        {
                            "artifact": name,
                            "stage": str(stage["stage"]),
                            "version": str(stage["version"]),
                            "tag": str(stage.get("ref") or ""),
                            "sha": str(stage.get("commit_hexsha") or ""),
                            "since": stage.get("activated_at") or stage.get("created_at"),
                            "by": str(stage.get("author") or ""),
                            "by_email": str(stage.get("author_email") or ""),
                        }
                    )
        return events, stages, []
    except (GTOException, ValueError, KeyError) as exc:
        return [], [], [Problem("(git tags)", f"GTO could not read the registry tags: {exc}")]


# --- remotes: is a data version retrievable? ------------------------------------------------------------------------
class RemoteUnverifiable(SyncError):
    """A remote that cannot be checked: unreachable, not readable with the credentials given, or of a kind this
    installation of DVC cannot read. What it holds is unknown, which is never taken as "present"."""


def _remote(url: str, options: dict[str, Any]) -> Any:
    """DVC's own remote (``dvc.data_cloud.Remote``) for a URL and options an admin configured, with its object
    databases: ``odb`` for DVC 3 hashes (``files/md5/…``) and ``legacy_odb`` for DVC 2's."""
    from dvc.data_cloud import Remote
    from dvc.fs import get_cloud_fs

    try:
        cls, conf, fs_path = get_cloud_fs({}, url=url, **options)
        fs = cls(**conf)
    except ImportError as exc:  # "s3 is supported, but requires 'dvc-s3' to be installed"
        raise RemoteUnverifiable(f"DVC cannot read {redact_url(url)} here: {exc}.", hint="Install the plugin.") from exc
    except Exception as exc:  # DVC raises its config errors and the filesystem's own
        raise RemoteUnverifiable(f"DVC refuses the remote {redact_url(url)}: {exc}") from exc
    return Remote("check", fs_path, fs, **conf)


def _probe(remote: Any, url: str) -> None:
    """Make sure the remote answers at all: a file system's "no such file" cannot otherwise be told from "cannot
    reach it" (fsspec's HTTP file system reports both alike)."""
    fs, root = remote.fs, remote.path
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    try:
        if protocol == "local":
            if not fs.isdir(root):
                raise RemoteUnverifiable(f"The remote folder {root} does not exist on this machine.")
        elif protocol in ("http", "https", "webdav", "webdavs"):
            import requests  # the HTTP library DVC and MLflow already bring

            requests.head(url, timeout=10, allow_redirects=False)  # any answer, even 404, proves it is up
        else:
            fs.exists(root)
    except RemoteUnverifiable:
        raise
    except Exception as exc:  # connection errors of every file system
        raise RemoteUnverifiable(f"The remote {redact_url(url)} did not answer: {str(exc)[:300]}") from exc


def remote_objects_present(url: str, options: dict[str, Any], hashes: Iterable[str]) -> dict[str, bool]:
    """For each DVC hash (a file's md5, or ``<md5>.dir`` for a directory, whose listed files must all be present
    too): whether the remote at ``url`` holds it, in DVC 3's layout or DVC 2's. Raises ``RemoteUnverifiable``
    when the remote cannot be checked."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    remote = _remote(url, options)
    _probe(remote, url)
    found: dict[str, bool] = {}
    try:
        databases = [remote.odb, remote.legacy_odb]
        for value in hashes:
            odb = next((db for db in databases if db.exists(value)), None)
            if odb is None or not value.endswith(".dir"):
                found[value] = odb is not None
                continue
            tree = Tree.load(odb, HashInfo(odb.hash_name, value))
            oids = [info.value for _, _, info in tree if info is not None and info.value]
            found[value] = len(set(odb.oids_exist(oids))) == len(set(oids))
    except RemoteUnverifiable:
        raise
    except Exception as exc:  # permission errors, timeouts, a corrupt .dir listing
        raise RemoteUnverifiable(f"Reading the remote {redact_url(url)} failed: {str(exc)[:300]}") from exc
    return found
