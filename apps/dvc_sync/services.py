"""Writes of the DVC mirror: adding sources and syncing them.

A sync fetches the source into the product's own clone, walks only the commits that are new since the last sync
(parents first), and for each one decides from git alone whether a file that matters to DVC changed. Commits that
changed none share their parent's snapshot. For the others, the manifest (every such file's blob sha) names the
snapshot; a manifest seen before is that snapshot again. Otherwise the commit is checked out and only the DVC files
that changed are loaded (``client.TreeReader``), unless something that decides what DVC collects changed (ignore
files, params and vars files, files added or removed, a stage's shape), in which case DVC collects the whole tree,
still reusing every file it loaded before in this sync. The pipeline graph is rebuilt only when the shape of the
collected files changes. The ref tips are saved only when the whole walk succeeded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.audit.context import Actor
from apps.audit.services import audit_record, audit_saved, audit_snapshot
from apps.core import services as core_services
from apps.core.bulk import insert_rows
from apps.core.errors import SourceError, SyncError
from apps.core.registry import Progress
from apps.dvc_sync import gitrepo
from apps.dvc_sync.client import (
    FileResult,
    Problem,
    StageInfo,
    TreeReader,
    gto_registry,
    is_dvc_file,
    lock_of,
    owner_of,
)
from apps.dvc_sync.graphs import Pipeline, graph_from_json, graph_to_json
from apps.dvc_sync.models import (
    ArtifactEvent,
    ArtifactStage,
    Commit,
    DataVersion,
    DvcRemote,
    DvcSource,
    Pin,
    PipelineGraph,
    Ref,
    Snapshot,
)
from apps.dvc_sync.records import TrackedData

logger = logging.getLogger(__name__)

PARAMS_NAMES = {"params.yaml", "params.yml", "params.json", "params.toml", "params.py"}
PROGRESS_EVERY = 25
COMMIT_BATCH = 500


# --- sources -------------------------------------------------------------------------------------------------------
def dvc_source_add(
    *,
    name: str,
    location: str,
    root: str = "",
    refs: Iterable[str] = (),
    web_url: str = "",
    actor: Actor | None = None,
) -> tuple[DvcSource, bool]:
    """Add a DVC source and return it with ``created``, recording ``source.added``. The same name and location
    again changes nothing; the same name with another location is refused, as are bad names and roots, a local
    path that does not exist or is not a git repository, and a ``web_url`` (the git web UI the pages link to) that
    is not an http(s) URL (``SourceError`` with the reason)."""
    location = gitrepo.check_location(location)
    existing = DvcSource.objects.filter(name=name).first()
    if existing is not None:
        if existing.location == location:
            return existing, False
        raise SourceError(
            f"A DVC source named '{name}' already exists with location {existing.location}.",
            hint="Choose another name, or change the existing source in the admin.",
        )
    source = DvcSource(name=name, location=location, root=root, refs=" ".join(refs), web_url=web_url or "")
    core_services.source_check(source)
    with transaction.atomic():
        source.save()
        _record_source("source.added", source, actor, after=audit_snapshot(source, SOURCE_FIELDS))
    return source, True


SOURCE_FIELDS = ("name", "location", "root", "refs", "web_url", "enabled")


def _record_source(action: str, source: DvcSource, actor: Actor | None, **changes: Any) -> None:
    audit_record(
        action=action, target_type="dvc_source", target_id=source.pk, target_text=source.name, actor=actor, **changes
    )


def dvc_source_save(*, source: DvcSource, actor: Actor) -> DvcSource:
    """Save a source edited in the admin (already validated by its form), recording ``source.added`` or
    ``source.changed`` with the fields before and after. Saving without a change records nothing."""
    audit_saved(
        source, fields=SOURCE_FIELDS, kind="source", target_type="dvc_source", target_text=source.name, actor=actor
    )
    return source


REMOTE_FIELDS = ("name", "url", "options", "credential_env", "enabled")


def dvc_remote_save(*, remote: DvcRemote, actor: Actor) -> DvcRemote:
    """Save a data-check remote edited in the admin, recording ``source.changed`` on its source with the remote's
    fields before and after. Saving without a change records nothing."""
    audit_saved(
        remote, fields=REMOTE_FIELDS, kind="source", target_type="dvc_source", target_id=remote.source_id,
        target_text=remote.source.name, actor=actor, wrap="remote",
    )  # fmt: skip
    return remote


def dvc_remote_delete(*, remote: DvcRemote, actor: Actor) -> None:
    with transaction.atomic():
        before = audit_snapshot(remote, REMOTE_FIELDS)
        source = remote.source
        remote.delete()
        _record_source("source.changed", source, actor, before={"remote": before}, after={"remote": None})


def dvc_source_delete(*, source: DvcSource, actor: Actor) -> None:
    """Delete a source, its mirror and its clone, recording ``source.deleted``."""
    with transaction.atomic():
        before = audit_snapshot(source, SOURCE_FIELDS)
        source_id, name, clone = source.pk, source.name, dvc_clone_dir(source)
        source.delete()
        audit_record(
            action="source.deleted",
            target_type="dvc_source",
            target_id=source_id,
            target_text=name,
            actor=actor,
            before=before,
        )
    shutil.rmtree(clone, ignore_errors=True)


def dvc_clone_dir(source: DvcSource) -> Path:
    """Where the product keeps its own clone of the source (never the user's work tree)."""
    return Path(settings.DVC_REPOS_DIR) / f"{source.pk}"


def dvc_source_delete_clone(source: DvcSource) -> None:
    shutil.rmtree(dvc_clone_dir(source), ignore_errors=True)


# --- a snapshot while syncing --------------------------------------------------------------------------------------
@dataclass
class State:
    """A snapshot as the sync holds it: enough to derive a child commit's snapshot from it."""

    manifest: dict[str, str]
    files: dict[str, FileResult] = field(default_factory=dict)
    graph_key: str = ""
    graph: Pipeline | None = None
    remotes: dict[str, str] = field(default_factory=dict)
    other_problems: list[Problem] = field(default_factory=list)  # not of one DVC file: graph, config
    pk: int | None = None

    @property
    def key(self) -> str:
        return _digest(self.manifest)

    @property
    def artifacts(self) -> dict[str, Any]:
        """The ``artifacts:`` of every loaded ``dvc.yaml``."""
        found: dict[str, Any] = {}
        for result in self.files.values():
            found.update(result.artifacts)
        return found

    @property
    def watched(self) -> set[str]:
        return {w for f in self.files.values() for w in f.watched}

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.files.values() for p in f.problems] + self.other_problems


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class _Walk:
    """One sync's walk over new commits of one source."""

    def __init__(self, source: DvcSource, clone: Path, full: bool) -> None:
        self.source = source
        self.clone = clone
        self.full = full
        self.root = source.root
        self.reader = TreeReader(clone, source.root)
        self.states: dict[str, State] = {}  # commit sha -> state, for this walk
        self.by_key: dict[str, State] = {}  # manifest key -> state (saved)
        self.data_ids: dict[tuple[str, str, str], int] = {}
        self.graph_ids: dict[str, int] = {}
        self.checked_out = ""
        self.counts = {"snapshots": 0, "data_versions": 0}

    # -- which files matter --
    def in_root(self, path: str) -> bool:
        return not self.root or path.startswith(self.root + "/")

    def relevant(self, path: str, parent: State | None) -> bool:
        """Whether a change to ``path`` may change what DVC sees: DVC files, params files, ignore rules and the
        DVC config of the project, ``.gitignore`` files anywhere, and the params and vars files DVC read last."""
        name = posixpath.basename(path)
        if name == ".gitignore":
            return True
        if parent is not None and path in parent.watched:
            return True
        if not self.in_root(path):
            return False
        inner = path[len(self.root) + 1 :] if self.root else path
        return is_dvc_file(inner) or name in PARAMS_NAMES or name == ".dvcignore" or inner == ".dvc/config"

    # -- states from the database --
    def state_of(self, sha: str) -> State | None:
        if sha in self.states:
            return self.states[sha]
        commit = (
            Commit.objects.filter(source=self.source, sha=sha).select_related("snapshot", "snapshot__graph").first()
        )
        if commit is None or commit.snapshot is None:
            return None
        state = self.load_state(commit.snapshot)
        self.states[sha] = state
        return state

    def load_state(self, snapshot: Snapshot) -> State:
        data: dict[str, list[TrackedData]] = {}
        for pin in Pin.objects.filter(snapshot=snapshot).select_related("data_version"):
            dv = pin.data_version
            data.setdefault(pin.dvcfile, []).append(
                TrackedData(
                    path=dv.path, role=pin.role, stage=pin.stage, dvcfile=pin.dvcfile, hash_name=dv.hash_name,
                    hash_value=dv.hash_value, size=dv.size, nfiles=dv.nfiles, isdir=dv.isdir, frozen=pin.frozen,
                    import_url=pin.import_url, import_rev=pin.import_rev, import_rev_lock=pin.import_rev_lock,
                    import_path=pin.import_path,
                )
            )  # fmt: skip
        stages: dict[str, list[StageInfo]] = {}
        for address, info in snapshot.stages.items():
            stages.setdefault(info["dvcfile"], []).append(StageInfo(address=address, **info))
        problems: dict[str, list[Problem]] = {}
        for p in snapshot.problems:
            problems.setdefault(p["path"], []).append(Problem(p["path"], p["message"], p.get("line")))
        files: dict[str, FileResult] = {}
        for top, meta in snapshot.files.items():
            dvc_path = meta["dvcfile"]
            files[top] = FileResult(
                path=top,
                stages=stages.get(dvc_path, []),
                data=data.get(dvc_path, []),
                artifacts={k: v for k, v in snapshot.artifacts.items() if v.get("dvcfile") == dvc_path},
                watched=meta.get("watched", []),
                structure=meta.get("structure", ""),
                problems=problems.pop(top, []) + problems.pop(lock_of(top), []),
            )
        graph = None
        if snapshot.graph is not None:
            graph = Pipeline(
                stages=graph_from_json(snapshot.graph.stages), outputs=graph_from_json(snapshot.graph.outputs)
            )
        state = State(
            manifest=dict(snapshot.manifest),
            files=files,
            graph_key=snapshot.graph.key if snapshot.graph else "",
            graph=graph,
            remotes=dict(snapshot.remotes),
            other_problems=[p for ps in problems.values() for p in ps],
            pk=snapshot.pk,
        )
        if snapshot.graph is not None:
            self.graph_ids[snapshot.graph.key] = snapshot.graph.pk
        return state

    # -- one commit --
    def state_for(self, commit: gitrepo.CommitInfo) -> tuple[State, bool]:
        """The commit's state, and whether it changed DVC files."""
        parent = self.state_of(commit.parents[0]) if commit.parents else None
        if parent is not None:
            changed = [p for p in commit.changed if self.relevant(p, parent)]
            if not changed:
                return parent, False
            now = gitrepo.blobs(self.clone, commit.sha, changed)
            manifest = {k: v for k, v in parent.manifest.items() if k not in changed}
            manifest.update(now)
        else:
            changed = []
            manifest = {p: b for p, b in gitrepo.blobs(self.clone, commit.sha).items() if self.relevant(p, None)}
        known = self.known_state(_digest(manifest))
        if known is not None:
            return known, True
        state = self.compute(commit.sha, manifest, parent, changed)
        missing = [w for w in state.watched if w not in state.manifest]
        if missing:  # params or vars files with names only DVC knew: their blobs join the manifest
            state.manifest.update(gitrepo.blobs(self.clone, commit.sha, missing))
            known = self.known_state(state.key)
            if known is not None:
                return known, True
        self.save_state(state)
        return state, True

    def known_state(self, key: str) -> State | None:
        if key in self.by_key:
            return self.by_key[key]
        if self.full:
            return None
        snapshot = Snapshot.objects.filter(source=self.source, key=key).select_related("graph").first()
        if snapshot is None:
            return None
        state = self.load_state(snapshot)
        self.by_key[key] = state
        return state

    def checkout(self, sha: str) -> None:
        if self.checked_out != sha:
            gitrepo.checkout(self.clone, sha)
            self.reader.refresh()
            self.checked_out = sha

    def file_key(self, top: str, manifest: dict[str, str]) -> str:
        """What a DVC file's loading depends on: its blob, its lock's, and (for a dvc.yaml) every params, vars,
        ignore and config file of the manifest."""
        key = f"{manifest.get(top, '')}:{manifest.get(lock_of(top), '')}"
        if top.endswith("dvc.yaml"):
            key += ":" + _digest({p: b for p, b in manifest.items() if not is_dvc_file(p)})
        return key

    def compute(self, sha: str, manifest: dict[str, str], parent: State | None, changed: list[str]) -> State:
        self.checkout(sha)
        if not self.reader.has_project:
            return State(manifest=manifest)
        if parent is not None and self.only_loaded_files_modified(changed, parent, manifest):
            state = self.update_files(manifest, parent, changed)
            if state is not None:
                return state
        return self.collect_all(manifest, parent, changed)

    def only_loaded_files_modified(self, changed: list[str], parent: State, manifest: dict[str, str]) -> bool:
        if not parent.graph_key or parent.other_problems:
            return False
        for path in changed:
            owner = owner_of(path)
            if not is_dvc_file(path) or owner not in parent.files or path not in manifest:
                return False
            if path not in parent.manifest or not parent.files[owner].loaded:
                return False
        return True

    def update_files(self, manifest: dict[str, str], parent: State, changed: list[str]) -> State | None:
        """The parent's state with the changed DVC files loaded again; ``None`` when their shape changed (the
        graph may differ) or one no longer loads, so that DVC collects the whole tree instead."""
        files = dict(parent.files)
        for owner in sorted({owner_of(p) for p in changed}):
            result = self.reader.load_file(owner, self.file_key(owner, manifest))
            old = parent.files[owner]
            if not result.loaded or result.structure != old.structure:
                return None
            files[owner] = result
        return replace(parent, manifest=manifest, files=files, pk=None)

    def top(self, dvc_path: str) -> str:
        return f"{self.root}/{dvc_path}" if self.root else dvc_path

    def collect_all(self, manifest: dict[str, str], parent: State | None, changed: list[str]) -> State:
        loaded = self.reader.collect(lambda top: self.file_key(top, manifest))
        files = {result.path: result for _, result in loaded}
        graph_key = _digest(sorted((p, f.structure if f.loaded else "!") for p, f in files.items()))
        other: list[Problem] = []
        graph: Pipeline | None
        if parent is not None and parent.graph_key == graph_key and not parent.other_problems:
            graph = parent.graph
        else:
            graph, other = self.reader.pipeline([index for index, _ in loaded])
            if graph is None:
                graph_key = ""
        config = self.top(".dvc/config")
        if parent is None or config in changed or parent.other_problems:
            remotes, config_problems = self.reader.remotes()
            other += config_problems
        else:
            remotes = parent.remotes
        return State(
            manifest=manifest, files=files, graph_key=graph_key, graph=graph, remotes=remotes, other_problems=other
        )

    # -- writing --
    def graph_id(self, state: State) -> int | None:
        if not state.graph_key or state.graph is None:
            return None
        if state.graph_key not in self.graph_ids:
            graph, _ = PipelineGraph.objects.update_or_create(
                source=self.source,
                key=state.graph_key,
                defaults={"stages": graph_to_json(state.graph.stages), "outputs": graph_to_json(state.graph.outputs)},
            )
            self.graph_ids[state.graph_key] = graph.pk
        return self.graph_ids[state.graph_key]

    def data_version_ids(self, items: list[TrackedData]) -> dict[tuple[str, str, str], int]:
        wanted = {(t.path, t.hash_name, t.hash_value): t for t in items}
        missing = [k for k in wanted if k not in self.data_ids]
        if missing:
            paths = sorted({k[0] for k in missing})
            for start in range(0, len(paths), 500):
                for pk, path, name, value in DataVersion.objects.filter(
                    source=self.source, path__in=paths[start : start + 500]
                ).values_list("pk", "path", "hash_name", "hash_value"):
                    self.data_ids[(path, name, value)] = pk
            new = [k for k in missing if k not in self.data_ids]
            if new:
                DataVersion.objects.bulk_create(
                    [
                        DataVersion(
                            source=self.source, path=k[0], hash_name=k[1], hash_value=k[2], size=wanted[k].size,
                            nfiles=wanted[k].nfiles, isdir=wanted[k].isdir,
                        )
                        for k in new
                    ],
                    ignore_conflicts=True,
                )  # fmt: skip
                self.counts["data_versions"] += len(new)
                for pk, path, name, value in DataVersion.objects.filter(
                    source=self.source, path__in=sorted({k[0] for k in new})
                ).values_list("pk", "path", "hash_name", "hash_value"):
                    self.data_ids[(path, name, value)] = pk
        return self.data_ids

    def save_state(self, state: State) -> None:
        stages: dict[str, Any] = {}
        files: dict[str, Any] = {}
        pins: dict[tuple[int, str, str], TrackedData] = {}
        data = [t for f in state.files.values() for t in f.data]
        with transaction.atomic():
            ids = self.data_version_ids(data)
            for top, result in state.files.items():
                dvc_path = top[len(self.root) + 1 :] if self.root else top
                files[top] = {"dvcfile": dvc_path, "structure": result.structure, "watched": result.watched}
                for stage in result.stages:
                    stages[stage.address] = stage.as_dict()
            for t in data:
                pins.setdefault((ids[(t.path, t.hash_name, t.hash_value)], t.role, t.stage), t)
            snapshot, created = Snapshot.objects.update_or_create(
                source=self.source,
                key=state.key,
                defaults={
                    "manifest": state.manifest,
                    "graph_id": self.graph_id(state),
                    "stages": stages,
                    "artifacts": state.artifacts,
                    "remotes": state.remotes,
                    "files": files,
                    "problems": [p.as_dict() for p in state.problems],
                },
            )
            if not created:
                Pin.objects.filter(snapshot=snapshot).delete()
            insert_rows(  # a snapshot pins hundreds of paths
                Pin,
                PIN_COLUMNS,
                [
                    (
                        snapshot.pk, dv_id, role, stage, t.dvcfile, t.frozen, t.import_url, t.import_rev,
                        t.import_rev_lock, t.import_path,
                    )
                    for (dv_id, role, stage), t in pins.items()
                ]
            )  # fmt: skip
        state.pk = snapshot.pk
        self.by_key[state.key] = state
        self.counts["snapshots"] += 1


PIN_COLUMNS = (
    "snapshot_id", "data_version_id", "role", "stage", "dvcfile", "frozen", "import_url", "import_rev",
    "import_rev_lock", "import_path",
)  # fmt: skip


# --- the sync --------------------------------------------------------------------------------------------------------
def dvc_source_sync(source_id: int, *, full: bool = False, progress: Progress | None = None) -> dict[str, int]:
    """Mirror the new commits of a DVC source's followed refs; returns the counts for the ``SyncRun``.

    Raises ``SyncError`` when the repository cannot be fetched (nothing is written then). A DVC file that does not
    load is recorded on its commit's snapshot and the walk goes on; commits whose parents the clone lacks (a
    shallow history) and commits no followed ref reaches any more (a force-push) are counted, not fatal.
    ``full`` walks every commit again and recomputes every snapshot instead of only what is new.
    """
    source = DvcSource.objects.get(pk=source_id)
    clone = dvc_clone_dir(source)
    report = progress or _no_progress
    report(done=0, total=0, phase="fetching")
    try:
        gitrepo.fetch(source.location, clone)
    except SyncError as exc:
        raise SyncError(
            f"Could not fetch {source.location}: {exc}",
            hint="Check that the path or URL is right and that this machine can read it; nothing was changed.",
        ) from exc
    git_refs, default_branch = gitrepo.refs(clone)
    followed = [r for r in git_refs if source.follows(r.name)]
    tips = sorted({r.sha for r in followed})
    state = dict(source.sync_state or {})
    if (state.get("root", source.root), state.get("refs", source.refs)) != (source.root, source.refs):
        full = True  # another subproject or other refs: what was mirrored was read with other eyes
    previous = [] if full else list(state.get("tips", []))
    known = sorted(gitrepo.existing(clone, previous))
    walk = _Walk(source, clone, full)
    shallow = gitrepo.shallow_commits(clone)
    counts = {"commits": 0, "dvc_commits": 0, "unparseable_commits": 0, "commits_missing_parents": 0}
    try:
        commits = list(gitrepo.new_commits(clone, tips, known))
        report(done=0, total=len(commits), phase="commits")
        last = Commit.objects.filter(source=source).order_by("-position").values_list("position", flat=True)[:1]
        position = last[0] if last else 0
        batch: list[Commit] = []
        for i, info in enumerate(commits, 1):
            commit_state, changed = walk.state_for(info)
            missing_parents = info.sha in shallow or any(p not in walk.states for p in info.parents[:1])
            position += 1
            batch.append(
                Commit(
                    source=source, sha=info.sha, parents=info.parents, author_name=info.author_name[:500],
                    author_email=info.author_email[:500], authored_at=info.authored_at,
                    committed_at=info.committed_at, message=info.message, position=position, dvc_changed=changed,
                    snapshot_id=commit_state.pk, on_refs=True, parents_missing=missing_parents,
                )
            )  # fmt: skip
            walk.states[info.sha] = commit_state
            counts["commits"] += 1
            counts["dvc_commits"] += int(changed)
            counts["unparseable_commits"] += int(changed and bool(commit_state.problems))
            counts["commits_missing_parents"] += int(missing_parents)
            if len(batch) >= COMMIT_BATCH:
                _write_commits(batch)
                batch = []
            if i % PROGRESS_EVERY == 0:
                report(done=i, total=len(commits), phase="commits", counts=counts)
        _write_commits(batch)
    finally:
        walk.reader.close()
    dropped = _mark_unreachable(source, clone, known, tips)
    counts["commits_dropped_from_refs"] = dropped
    refs_digest = _digest([default_branch, sorted(repr(r) for r in followed)])  # kinds, names, tips, taggers
    if full or dropped or counts["commits"] or state.get("refs_digest") != refs_digest:
        _write_refs(source, followed, default_branch)
    tags_digest = _digest(sorted((r.name, r.sha) for r in git_refs if r.kind == "tag"))
    if full or state.get("tags_digest") != tags_digest:
        _write_gto(source, clone)
    counts["snapshots"] = walk.counts["snapshots"]
    counts["data_versions"] = walk.counts["data_versions"]
    state.update(
        tips=tips,
        default_branch=default_branch,
        tags_digest=tags_digest,
        refs_digest=refs_digest,
        root=source.root,
        refs=source.refs,
    )
    DvcSource.objects.filter(pk=source.pk).update(sync_state=state)
    report(done=len(commits), total=len(commits), phase="done", counts=counts)
    return counts


def _no_progress(*, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None) -> None:
    return None


def _write_commits(batch: list[Commit]) -> None:
    if not batch:
        return
    Commit.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["source", "sha"],
        update_fields=["snapshot", "dvc_changed", "on_refs", "parents_missing", "position"],
    )


def _mark_unreachable(source: DvcSource, clone: Path, known: list[str], tips: list[str]) -> int:
    """Commits mirrored before that no followed ref reaches now (a force-push, a deleted branch): kept, marked."""
    gone_tips = [k for k in known if k not in tips]
    if not gone_tips:
        return 0
    exclude = ["--not", *tips] if tips else []
    lost = set(gitrepo.git(["rev-list", *gone_tips, *exclude], cwd=clone).split())
    if not lost:
        return 0
    shas = sorted(lost)
    changed = 0
    for start in range(0, len(shas), 500):
        changed += Commit.objects.filter(source=source, sha__in=shas[start : start + 500], on_refs=True).update(
            on_refs=False
        )
    return changed


def _write_refs(source: DvcSource, followed: list[gitrepo.GitRef], default_branch: str) -> None:
    shas = sorted({r.sha for r in followed})
    ids = dict(Commit.objects.filter(source=source, sha__in=shas).values_list("sha", "pk")) if shas else {}
    with transaction.atomic():
        Ref.objects.filter(source=source).delete()
        Ref.objects.bulk_create(
            [
                Ref(
                    source=source, kind=r.kind, name=r.name, sha=r.sha, commit_id=ids.get(r.sha),
                    is_default=r.kind == "branch" and r.name == default_branch, tagger_name=r.tagger_name[:500],
                    tagger_email=r.tagger_email[:500], tagged_at=r.tagged_at, message=r.message,
                )
                for r in followed
            ]
        )  # fmt: skip


def _write_gto(source: DvcSource, clone: Path) -> None:
    events, stages, problems = gto_registry(clone)
    for problem in problems:
        logger.warning("%s: %s", source.name, problem.message)
    with transaction.atomic():
        ArtifactEvent.objects.filter(source=source).delete()
        ArtifactStage.objects.filter(source=source).delete()
        ArtifactEvent.objects.bulk_create([ArtifactEvent(source=source, **e) for e in events], ignore_conflicts=True)
        ArtifactStage.objects.bulk_create([ArtifactStage(source=source, **s) for s in stages], ignore_conflicts=True)
