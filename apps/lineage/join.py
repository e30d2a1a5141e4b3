"""The join's rules (DESIGN "The join and its evidence") as pure functions over plain data.

``join_run`` takes what the mirrors say about one run and a ``DvcLookup`` over the DVC mirror, and returns the run's
links with their evidence and its verdict. No ORM here: ``services`` loads the facts and writes the result.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from apps.lineage.models import EVIDENCE_ORDER, PINNED, Evidence, ReproRule, Resolution, Verdict

GIT_COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "mlflow.source.git.dirty"
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


# -- what the mirrors say ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFacts:
    name: str
    digest: str
    source: str


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    git_commit: str
    repo_url: str
    source_name: str
    tags: dict[str, str]
    params: dict[str, str]
    inputs: tuple[InputFacts, ...] = ()
    model_dirty: bool = False  # a logged model of one of its model versions says the work tree was dirty


@dataclass(frozen=True)
class CommitFacts:
    id: int
    source_id: int
    source_name: str
    sha: str
    snapshot_id: int | None


@dataclass(frozen=True)
class PinFacts:
    data_version_id: int
    path: str
    md5: str
    size: int | None
    role: str
    stage: str


@dataclass(frozen=True)
class SnapshotFacts:
    id: int
    stages: dict[str, dict]
    pins: tuple[PinFacts, ...]
    # What the rules derived from this snapshot, kept for the next run at the same commit (thousands share one).
    memo: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class SourceFacts:
    id: int
    name: str
    location: str
    root: str
    web_url: str = ""  # the admin's base URL of the repository's web UI: also names the repository


@dataclass(frozen=True)
class DataVersionFacts:
    id: int
    source_id: int
    path: str
    md5: str
    size: int | None


class DvcLookup(Protocol):
    def commits(self, sha: str) -> list[CommitFacts]: ...

    def source(self, source_id: int) -> SourceFacts: ...

    def snapshot(self, snapshot_id: int) -> SnapshotFacts: ...

    def next_lock_change(self, commit: CommitFacts) -> CommitFacts | None: ...

    def data_versions(self, md5: str) -> list[DataVersionFacts]: ...


# -- the result ---------------------------------------------------------------------------------------------------


@dataclass
class Link:
    data_version_id: int | None
    source_id: int | None
    repo: str
    commit_id: int | None
    path: str
    md5: str
    size: int | None
    stage: str = ""
    evidence: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, evidence: str, detail: str = "") -> None:
        if evidence not in self.evidence:
            self.evidence.append(evidence)
            self.evidence.sort(key=EVIDENCE_ORDER.__getitem__)
        if detail and detail not in self.details:
            self.details.append(detail)


@dataclass
class JoinResult:
    verdict: str
    resolution: str
    commit_sha: str = ""
    commit_key: str = ""
    source_id: int | None = None
    commit_id: int | None = None
    lock_commit_id: int | None = None
    repro_rule: str = ""
    stage: str = ""
    dirty: bool = False
    candidates: list[str] = field(default_factory=list)
    unmatched_inputs: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


# -- helpers --------------------------------------------------------------------------------------------------


def is_true(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"true", "1", "yes"}


def plain_md5(value: str) -> str:
    """DVC's hash without the ``.dir`` suffix directories carry, lower-case, for comparing with digests."""
    return value.strip().lower().removesuffix(".dir")


def run_markers(run_id: str) -> frozenset[str]:
    """The md5s a committed file holding exactly the run id has (DVC records it for a ``cache: false`` output)."""
    return frozenset(hashlib.md5(text.encode()).hexdigest() for text in (run_id, run_id + "\n"))


def normalise_repo_url(url: str) -> str:
    """``host/path`` of a git URL or local path, lower-case, without credentials, scheme, ``.git`` or slashes, so
    ``git@github.com:org/repo.git`` and ``https://user@github.com/org/repo`` compare equal."""
    text = url.strip()
    if not text:
        return ""
    scp = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$", text)
    if scp and "/" not in scp.group(1):
        host, path = scp.group(1), scp.group(2)
    else:
        parsed = urlparse(text)
        host = (parsed.hostname or "") if parsed.scheme not in ("", "file") else ""
        path = unquote(parsed.path if parsed.scheme else text)
    path = path.rstrip("/").removesuffix(".git").strip("/")
    return f"{host}/{path}".lower().strip("/")


def dataset_path(source: str) -> str:
    """The path a dataset input's source names, or "": MLflow stores ``{"uri": …}`` (or ``{"path": …}``)."""
    text = source.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return ""
        text = str(data.get("uri") or data.get("path") or "") if isinstance(data, dict) else ""
    if not text:
        return ""
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # s3://, https://, dbfs: … not a path in the repository
        return ""
    return text


def _under(path: str, prefix: str) -> str | None:
    prefix = prefix.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :].lstrip("/")
    return None


def resolve_tracked_path(raw: str, source: SourceFacts, tracked: Iterable[str]) -> str:
    """The tracked path (relative to the DVC root) a dataset source names, or "": relative to where training ran
    (the repository's top or the DVC root) or absolute (under the source's location, or ending in a tracked path)."""
    if not raw:
        return ""
    known = set(tracked)
    candidates: list[str] = []
    if posixpath.isabs(raw):
        inside = _under(posixpath.normpath(raw), posixpath.normpath(source.location)) if source.location else None
        if inside is not None:
            candidates.append(inside)
    else:
        candidates.append(posixpath.normpath(raw).removeprefix("./"))
    for candidate in list(candidates):
        below_root = _under(candidate, source.root) if source.root else None
        if below_root is not None:
            candidates.insert(0, below_root)
    for candidate in candidates:
        if candidate in known:
            return candidate
    # Trained elsewhere (another checkout, a container): the longest tracked path the source ends with.
    normalised = "/" + posixpath.normpath(raw).lstrip("/")
    ends = [path for path in known if normalised.endswith("/" + path)]
    return max(ends, key=len) if ends else ""


@lru_cache(maxsize=4096)
def _cmd_tokens(cmd: str) -> tuple[str, ...]:
    """A command's words that could name a script (options dropped, ``./`` removed)."""
    try:
        tokens = shlex.split(cmd)
    except ValueError:
        tokens = cmd.split()
    return tuple(t.removeprefix("./") for t in tokens if t and not t.startswith("-"))


def _cmd_runs(cmd: str, source_name: str) -> bool:
    """Whether a stage's command runs the script MLflow recorded as the run's source."""
    name = source_name.strip()
    if not name or not cmd:
        return False
    return any(
        token and (name == token or (len(token) > 3 and name.endswith("/" + token))) for token in _cmd_tokens(cmd)
    )


def training_stage(stages: dict[str, dict], source_name: str) -> str:
    """The stage whose command runs the run's source script, or ""."""
    for address in sorted(stages):
        if _cmd_runs(str(stages[address].get("cmd") or ""), source_name):
            return address
    return ""


def _memo(snapshot: SnapshotFacts, key: tuple[str, str], compute: Any) -> Any:
    if key not in snapshot.memo:
        snapshot.memo[key] = compute()
    return snapshot.memo[key]


def snapshot_training_stage(snapshot: SnapshotFacts, source_name: str) -> str:
    return str(_memo(snapshot, ("training", source_name), lambda: training_stage(snapshot.stages, source_name)))


def _owners(stages: dict[str, dict]) -> dict[str, str]:
    return {out["path"]: address for address, stage in stages.items() for out in stage.get("outs", [])}


def upstream_closure(stages: dict[str, dict], stage: str) -> list[str]:
    """``stage`` and every stage upstream of it (whose outputs it depends on, transitively), nearest first."""
    owners = _owners(stages)
    seen = [stage]
    queue = [stage]
    while queue:
        current = queue.pop(0)
        for dep in stages.get(current, {}).get("deps", []):
            owner = owners.get(dep["path"])
            if owner and owner not in seen:
                seen.append(owner)
                queue.append(owner)
    return seen


def closure_data(snapshot: SnapshotFacts, stage: str) -> list[PinFacts]:
    """The data versions a stage's upstream closure used: its stages' dependencies that DVC tracks (outputs of a
    stage or a ``.dvc`` file), as their ``dvc.lock`` entries pin them. Code and config in git are not data."""
    return list(_memo(snapshot, ("closure", stage), lambda: _closure_data(snapshot, stage)))


def _closure_data(snapshot: SnapshotFacts, stage: str) -> list[PinFacts]:
    owners = _owners(snapshot.stages)
    closure = set(upstream_closure(snapshot.stages, stage))
    seen: set[int] = set()
    found: list[PinFacts] = []
    for pin in snapshot.pins:
        if pin.role == "dep" and pin.stage in closure and pin.path in owners and pin.data_version_id not in seen:
            seen.add(pin.data_version_id)
            found.append(pin)
    # A .dvc-tracked source with no stage reading it yet pins only as an output of its .dvc "stage".
    for pin in snapshot.pins:
        if pin.role == "out" and pin.stage in closure and pin.stage != stage and pin.data_version_id not in seen:
            if not snapshot.stages.get(pin.stage, {}).get("cmd"):
                seen.add(pin.data_version_id)
                found.append(pin)
    return sorted(found, key=lambda p: p.path)


def source_data(snapshot: SnapshotFacts, stage: str) -> dict[str, str]:
    """{path: md5} of the closure's source data: outputs of stages with no command (``dvc add``, imports)."""
    owners = _memo(snapshot, ("owners", ""), lambda: _owners(snapshot.stages))
    return {
        pin.path: pin.md5
        for pin in closure_data(snapshot, stage)
        if not snapshot.stages.get(owners.get(pin.path, ""), {}).get("cmd")
    }


def committed_data(snapshot: SnapshotFacts) -> list[PinFacts]:
    """Everything a commit pins as data: every output of a ``.dvc`` file or a ``dvc.lock`` stage, once each."""
    return list(_memo(snapshot, ("committed", ""), lambda: _committed_data(snapshot)))


def _committed_data(snapshot: SnapshotFacts) -> list[PinFacts]:
    seen: set[int] = set()
    found: list[PinFacts] = []
    for pin in sorted(snapshot.pins, key=lambda p: p.path):
        if pin.role == "out" and pin.data_version_id not in seen:
            seen.add(pin.data_version_id)
            found.append(pin)
    return found


# -- the join -------------------------------------------------------------------------------------------------


def _candidate_shas(run: RunFacts, data_commit_keys: Sequence[str]) -> list[tuple[str, str, str]]:
    """(evidence, key, sha) for the git commit tag and any data-commit tag or param, in that order."""
    found: list[tuple[str, str, str]] = []
    if run.git_commit.strip():
        found.append((Evidence.COMMIT, GIT_COMMIT_TAG, run.git_commit.strip().lower()))
    for key in data_commit_keys:
        for where in (run.tags, run.params):
            value = str(where.get(key) or "").strip().lower()
            if value and _HEX.match(value) and all(value != sha for _, _, sha in found):
                found.append((Evidence.DATA_COMMIT, key, value))
                break
    return found


def _pick(commits: list[CommitFacts], run: RunFacts, lookup: DvcLookup) -> tuple[CommitFacts | None, list[str]]:
    """One commit among those with the sha in several sources: the one whose source matches the run's repository
    URL; otherwise None and the candidates' names (an ambiguity is shown, never silently resolved)."""
    by_source = {c.source_id: c for c in commits}
    if len(by_source) == 1:
        return next(iter(by_source.values())), []
    wanted = normalise_repo_url(run.repo_url)
    if wanted:
        matching = [
            c
            for c in by_source.values()
            if wanted
            in {
                normalise_repo_url(lookup.source(c.source_id).location),
                normalise_repo_url(lookup.source(c.source_id).web_url),
            }
        ]
        if len(matching) == 1:
            return matching[0], []
    return None, sorted(c.source_name for c in by_source.values())


def _link(pin: PinFacts, commit: CommitFacts, stage: str = "") -> Link:
    return Link(
        data_version_id=pin.data_version_id,
        source_id=commit.source_id,
        repo=commit.source_name,
        commit_id=commit.id,
        path=pin.path,
        md5=pin.md5,
        size=pin.size,
        stage=stage or pin.stage,
    )


def _missing(result: JoinResult, detail: str) -> None:
    if detail not in result.problems:
        result.problems.append(detail)
    result.links.append(
        Link(
            data_version_id=None,
            source_id=result.source_id,
            repo="",
            commit_id=result.commit_id,
            path="",
            md5="",
            size=None,
            evidence=[Evidence.MISSING],
            details=[detail],
        )
    )


def join_run(run: RunFacts, lookup: DvcLookup, *, data_commit_keys: Sequence[str]) -> JoinResult:
    """The run's links and verdict. Refuses nothing: whatever cannot be established becomes a ``missing`` link or
    a ``conflict`` with the reason in words."""
    result = JoinResult(verdict=Verdict.GAPS, resolution=Resolution.NO_COMMIT)
    result.dirty = is_true(run.tags.get(DIRTY_TAG)) or run.model_dirty
    commit: CommitFacts | None = None
    kinds: list[str] = []
    for evidence, key, sha in _candidate_shas(run, data_commit_keys):
        commits = lookup.commits(sha)
        if not commits:
            if not result.commit_sha:
                result.commit_sha, result.commit_key, result.resolution = sha, key, Resolution.UNKNOWN
            continue
        picked, candidates = _pick(commits, run, lookup)
        if picked is None:
            if commit is None:
                result.commit_sha, result.commit_key = sha, key
                result.resolution, result.candidates = Resolution.AMBIGUOUS, candidates
            continue
        if commit is None:
            commit, kinds = picked, [evidence]
            result.commit_sha, result.commit_key, result.resolution = picked.sha, key, Resolution.RESOLVED
            result.candidates = []
        elif picked.id == commit.id:
            kinds.append(evidence)

    snapshot: SnapshotFacts | None = None
    lock_commit: CommitFacts | None = None
    if commit is not None:
        result.source_id, result.commit_id = commit.source_id, commit.id
        snapshot, lock_commit = _describe(run, commit, lookup, result)
        if snapshot is not None and not result.links and result.repro_rule != ReproRule.PENDING:
            result.problems.append(f"No DVC data is pinned at commit {commit.sha[:10]} of {commit.source_name}.")
        commit_evidence = [Evidence.COMMIT_DIRTY if k == Evidence.COMMIT and result.dirty else k for k in kinds]
        for link in result.links:
            for evidence in commit_evidence:
                link.add(evidence)
    _match_inputs(run, lookup, result, snapshot, lock_commit)
    result.links.sort(key=lambda link: (link.path == "", link.path))

    if not result.links:
        if result.resolution == Resolution.NO_COMMIT:
            _missing(
                result,
                f"The run records no git commit ({GIT_COMMIT_TAG}) and no data commit tag, and none of its "
                "dataset inputs matches DVC data.",
            )
        elif result.resolution == Resolution.UNKNOWN:
            _missing(
                result,
                f"Commit {result.commit_sha[:10]} ({result.commit_key}) is in no synced DVC source: add the "
                "repository as a DVC source, or sync it if the commit is new.",
            )
        elif result.resolution == Resolution.AMBIGUOUS:
            _missing(
                result,
                f"Commit {result.commit_sha[:10]} is in several DVC sources ({', '.join(result.candidates)}) and the "
                "run's repository URL does not pick one.",
            )
        else:
            _missing(result, result.problems[-1] if result.problems else "No DVC data found for this run.")
    elif result.resolution == Resolution.AMBIGUOUS:
        result.problems.append(
            f"Commit {result.commit_sha[:10]} is in several DVC sources ({', '.join(result.candidates)}); only the "
            "dataset digests link data."
        )
    result.verdict = verdict_of([link.evidence for link in result.links], ambiguous=bool(result.candidates))
    return result


def verdict_of(evidence_lists: Iterable[Sequence[str]], *, ambiguous: bool = False) -> str:
    """``conflict`` if any link conflicts; ``gaps`` if any is missing (or the commit is ambiguous); ``probable`` if
    some link is only ``commit-dirty``; otherwise ``complete``."""
    lists = [list(e) for e in evidence_lists]
    if any(Evidence.CONFLICT in e for e in lists):
        return Verdict.CONFLICT
    if not lists or ambiguous or any(Evidence.MISSING in e for e in lists):
        return Verdict.GAPS
    if any(not PINNED.intersection(e) for e in lists):
        return Verdict.PROBABLE
    return Verdict.COMPLETE


def _describe(
    run: RunFacts, commit: CommitFacts, lookup: DvcLookup, result: JoinResult
) -> tuple[SnapshotFacts | None, CommitFacts | None]:
    """Fill ``result.links`` from the DVC state that describes the run; return that snapshot and its commit."""
    here = lookup.snapshot(commit.snapshot_id) if commit.snapshot_id else None
    later = lookup.next_lock_change(commit)
    later_snapshot = lookup.snapshot(later.snapshot_id) if later and later.snapshot_id else None
    markers = run_markers(run.run_id)
    marker_pin = next(
        (p for p in (later_snapshot.pins if later_snapshot else ()) if p.role == "out" and p.md5 in markers), None
    )
    stage_here = snapshot_training_stage(here, run.source_name) if here else ""
    if later is not None and later_snapshot is not None and marker_pin is not None:
        result.repro_rule, result.stage, result.lock_commit_id = ReproRule.MARKER, marker_pin.stage, later.id
        for pin in closure_data(later_snapshot, marker_pin.stage):
            link = _link(pin, later)
            link.details.append(
                f"dvc repro: dvc.lock at {later.sha[:10]} records this run ({marker_pin.path} holds its run id)"
            )
            result.links.append(link)
        return later_snapshot, later
    stage_later = snapshot_training_stage(later_snapshot, run.source_name) if later_snapshot else ""
    if stage_here or stage_later:
        stage = stage_later or stage_here
        result.stage = stage
        if later is not None and later_snapshot is not None and stage_later:
            wanted = source_data(later_snapshot, stage_later)
            pinned_here = {p.path: p.md5 for p in committed_data(here)} if here else {}
            if wanted and all(pinned_here.get(path) == md5 for path, md5 in wanted.items()):
                result.repro_rule, result.lock_commit_id = ReproRule.UPSTREAM, later.id
                for pin in closure_data(later_snapshot, stage_later):
                    link = _link(pin, later)
                    link.details.append(
                        f"dvc repro: dvc.lock at {later.sha[:10]} used the data pinned at {commit.sha[:10]}"
                    )
                    result.links.append(link)
                return later_snapshot, later
        result.repro_rule = ReproRule.PENDING
        result.problems.append(
            f"The run is stage '{stage}' of the pipeline (its source {run.source_name} is the stage's command), "
            f"made by dvc repro at {commit.sha[:10]}; no later commit's dvc.lock records it yet."
        )
        return here, commit
    if here is None:
        return None, commit
    result.lock_commit_id = commit.id
    for pin in committed_data(here):
        result.links.append(_link(pin, commit))
    return here, commit


def _match_inputs(
    run: RunFacts,
    lookup: DvcLookup,
    result: JoinResult,
    snapshot: SnapshotFacts | None,
    lock_commit: CommitFacts | None,
) -> None:
    """Add ``digest`` (or ``conflict``) evidence from the run's dataset inputs; list the inputs matching nothing."""
    if not run.inputs:
        return
    source = lookup.source(result.source_id) if result.source_id is not None else None
    pinned = {p.path: p for p in committed_data(snapshot)} if snapshot else {}
    deps = {p.path: p for p in snapshot.pins if p.role == "dep"} if snapshot else {}
    by_path = {link.path: link for link in result.links if link.path}
    for item in run.inputs:
        digest = plain_md5(item.digest)
        raw = dataset_path(item.source)
        path = resolve_tracked_path(raw, source, list(pinned) + list(deps)) if source and raw else ""
        if path:
            link = by_path.get(path)
            pin = pinned.get(path) or deps.get(path)
            if link is None and pin is not None and lock_commit is not None:
                link = _link(pin, lock_commit)
                result.links.append(link)
                by_path[path] = link
            if link is not None:
                if digest and digest == plain_md5(link.md5):
                    link.add(Evidence.DIGEST, f"dataset input '{item.name}' has digest {digest}")
                else:
                    link.add(
                        Evidence.CONFLICT,
                        f"dataset input '{item.name}' names {path} with digest {item.digest or 'none'}, but the "
                        f"commit pins md5 {link.md5}: trained on data that is not the committed version",
                    )
                    result.problems.append(
                        f"Conflict: the run logged {path} with digest {item.digest or 'none'}; commit "
                        f"{result.commit_sha[:10]} pins {link.md5}."
                    )
                continue
        known = lookup.data_versions(digest) if digest else []
        if known:
            same = [dv for dv in known if dv.path in by_path and by_path[dv.path].data_version_id == dv.id]
            other = [dv for dv in known if dv.path in by_path and by_path[dv.path].data_version_id != dv.id]
            if same:
                by_path[same[0].path].add(Evidence.DIGEST, f"dataset input '{item.name}' has digest {digest}")
            elif other:
                dv = other[0]
                by_path[dv.path].add(
                    Evidence.CONFLICT,
                    f"dataset input '{item.name}' has digest {digest}, the md5 of another version of {dv.path} "
                    f"than the {by_path[dv.path].md5} linked here: trained on data that is not the committed version",
                )
                result.problems.append(
                    f"Conflict: the run used {dv.path} md5 {digest}; commit {result.commit_sha[:10]} pins "
                    f"{by_path[dv.path].md5}."
                )
            else:
                link = _dv_link(known[0], lookup, result)
                link.add(Evidence.DIGEST, f"dataset input '{item.name}' has digest {digest}")
                result.links.append(link)
                by_path[link.path] = link
            continue
        result.unmatched_inputs.append({"name": item.name, "digest": item.digest, "source": item.source[:500]})


def _dv_link(dv: DataVersionFacts, lookup: DvcLookup, result: JoinResult) -> Link:
    return Link(
        data_version_id=dv.id,
        source_id=dv.source_id,
        repo=lookup.source(dv.source_id).name,
        commit_id=result.commit_id if result.source_id == dv.source_id else None,
        path=dv.path,
        md5=dv.md5,
        size=dv.size,
    )
