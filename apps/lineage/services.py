"""Writes of the lineage app: recomputing the join for runs, after every sync (the post-sync hook) or in full.

The rules are in ``join``; this module loads the facts from the two mirrors in bulk, caches the DVC side for a
batch of runs (many runs share a commit), and rewrites each run's ``RunLineage`` and ``LineageLink`` rows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.bulk import insert_rows
from apps.core.models import SyncRun
from apps.dvc_sync.models import Commit, DataVersion, DvcSource, Pin, Snapshot
from apps.lineage import join
from apps.lineage.models import JoinCursor, LineageLink, ReproRule, Resolution, RunLineage
from apps.mlflow_sync.models import DatasetInput, ModelVersion, Run

logger = logging.getLogger(__name__)

BATCH = 500
_LOCK_NAME = "dvc.lock"


def data_commit_keys() -> list[str]:
    return list(settings.LINEAGE_DATA_COMMIT_KEYS)


@dataclass
class _SourceHistory:
    """One DVC source's commits as a graph, to walk forward from a run's commit to the next dvc.lock change."""

    children: dict[str, list[Commit]]
    lock_blobs: dict[int | None, tuple[tuple[str, str], ...]]


class DvcIndex:
    """``join.DvcLookup`` over the DVC mirror, caching what it read for the life of one recomputation."""

    def __init__(self) -> None:
        self._commits: dict[str, list[join.CommitFacts]] = {}
        self._sources: dict[int, join.SourceFacts] = {
            s.id: join.SourceFacts(id=s.id, name=s.name, location=s.location, root=s.root, web_url=s.web_url)
            for s in DvcSource.objects.all()
        }
        self._snapshots: dict[int, join.SnapshotFacts] = {}
        self._histories: dict[int, _SourceHistory] = {}
        self._data: dict[str, list[join.DataVersionFacts]] = {}
        self._next: dict[int, join.CommitFacts | None] = {}

    @staticmethod
    def _facts(commit: Commit, source_name: str) -> join.CommitFacts:
        return join.CommitFacts(
            id=commit.pk,
            source_id=commit.source_id,
            source_name=source_name,
            sha=commit.sha,
            snapshot_id=commit.snapshot_id,
        )

    def preload(self, shas: Iterable[str], digests: Iterable[str]) -> None:
        """Read the commits and data versions a batch of runs names in two queries."""
        full = sorted({s for s in shas if len(s) == 40 or len(s) == 64} - set(self._commits))
        for chunk in _chunks(full, 500):
            found: dict[str, list[join.CommitFacts]] = {sha: [] for sha in chunk}
            for commit in Commit.objects.filter(sha__in=chunk).only("id", "sha", "source_id", "snapshot_id"):
                found[commit.sha].append(self._facts(commit, self._sources[commit.source_id].name))
            self._commits.update(found)
        wanted = sorted({d for d in digests if d} - set(self._data))
        for chunk in _chunks(wanted, 500):
            data: dict[str, list[join.DataVersionFacts]] = {d: [] for d in chunk}
            values = chunk + [d + ".dir" for d in chunk]
            for dv in DataVersion.objects.filter(hash_value__in=values).order_by("pk"):
                data[join.plain_md5(dv.hash_value)].append(self._dv_facts(dv))
            self._data.update(data)

    @staticmethod
    def _dv_facts(dv: DataVersion) -> join.DataVersionFacts:
        return join.DataVersionFacts(id=dv.pk, source_id=dv.source_id, path=dv.path, md5=dv.hash_value, size=dv.size)

    def commits(self, sha: str) -> list[join.CommitFacts]:
        if not sha:
            return []
        if sha not in self._commits:
            query = (
                Commit.objects.filter(sha=sha) if len(sha) in (40, 64) else Commit.objects.filter(sha__startswith=sha)
            )
            self._commits[sha] = [self._facts(c, self._sources[c.source_id].name) for c in query[:20]]
        return self._commits[sha]

    def source(self, source_id: int) -> join.SourceFacts:
        return self._sources[source_id]

    def snapshot(self, snapshot_id: int) -> join.SnapshotFacts:
        if snapshot_id not in self._snapshots:
            snapshot = Snapshot.objects.only("id", "stages").get(pk=snapshot_id)
            pins = tuple(
                join.PinFacts(
                    data_version_id=p["data_version_id"],
                    path=p["data_version__path"],
                    md5=p["data_version__hash_value"],
                    size=p["data_version__size"],
                    role=p["role"],
                    stage=p["stage"],
                )
                for p in Pin.objects.filter(snapshot_id=snapshot_id).values(
                    "data_version_id",
                    "data_version__path",
                    "data_version__hash_value",
                    "data_version__size",
                    "role",
                    "stage",
                )
            )
            self._snapshots[snapshot_id] = join.SnapshotFacts(id=snapshot.pk, stages=snapshot.stages, pins=pins)
        return self._snapshots[snapshot_id]

    def _history(self, source_id: int) -> _SourceHistory:
        if source_id not in self._histories:
            children: dict[str, list[Commit]] = defaultdict(list)
            # Commits no followed ref reaches any more (force-pushed away) do not describe a run.
            for commit in (
                Commit.objects.filter(source_id=source_id, on_refs=True)
                .only("id", "sha", "parents", "position", "snapshot_id", "source_id")
                .order_by("position")
            ):
                for parent in commit.parents:
                    children[parent].append(commit)
            blobs: dict[int | None, tuple[tuple[str, str], ...]] = {None: ()}
            for snapshot_id, manifest in Snapshot.objects.filter(source_id=source_id).values_list("id", "manifest"):
                blobs[snapshot_id] = _lock_blobs(manifest)
            self._histories[source_id] = _SourceHistory(children=children, lock_blobs=blobs)
        return self._histories[source_id]

    def next_lock_change(self, commit: join.CommitFacts) -> join.CommitFacts | None:
        """The first descendant (breadth first, in history order) whose dvc.lock files differ from the commit's."""
        if commit.id not in self._next:
            self._next[commit.id] = self._walk_to_lock_change(commit)
        return self._next[commit.id]

    def _walk_to_lock_change(self, commit: join.CommitFacts) -> join.CommitFacts | None:
        history = self._history(commit.source_id)
        mine = history.lock_blobs.get(commit.snapshot_id, ())
        queue = list(history.children.get(commit.sha, []))
        seen: set[str] = set()
        while queue:
            child = queue.pop(0)
            if child.sha in seen:
                continue
            seen.add(child.sha)
            theirs = history.lock_blobs.get(child.snapshot_id, ())
            if theirs and theirs != mine:
                return self._facts(child, self._sources[child.source_id].name)
            queue.extend(history.children.get(child.sha, []))
        return None

    def data_versions(self, md5: str) -> list[join.DataVersionFacts]:
        if md5 not in self._data:
            self._data[md5] = [
                self._dv_facts(dv)
                for dv in DataVersion.objects.filter(hash_value__in=[md5, md5 + ".dir"]).order_by("pk")[:50]
            ]
        return self._data[md5]


def _chunks(items: list[str] | list[int], size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _run_facts(runs: list[Run]) -> list[join.RunFacts]:
    ids = [r.pk for r in runs]
    inputs: dict[int, list[join.InputFacts]] = defaultdict(list)
    for run_id, name, digest, source in DatasetInput.objects.filter(run_id__in=ids).values_list(
        "run_id", "name", "digest", "source"
    ):
        inputs[run_id].append(join.InputFacts(name=name, digest=digest, source=source))
    dirty: set[int] = set()
    for run_id, tags in ModelVersion.objects.filter(run_id__in=ids).values_list("run_id", "logged_model_tags"):
        if join.is_true((tags or {}).get(join.DIRTY_TAG)):
            dirty.add(run_id)
    return [
        join.RunFacts(
            run_id=run.run_id,
            git_commit=run.git_commit,
            repo_url=run.git_repo_url,
            source_name=run.source_name,
            tags={str(k): str(v) for k, v in (run.tags or {}).items()},
            params={str(k): str(v) for k, v in (run.params or {}).items()},
            inputs=tuple(inputs.get(run.pk, ())),
            model_dirty=run.pk in dirty,
        )
        for run in runs
    ]


LINK_COLUMNS = (
    "run_id", "data_version_id", "dvc_source_id", "commit_id", "repo", "path", "md5", "size", "stage", "evidence",
    "detail", "position",
)  # fmt: skip


def _write(runs: list[Run], results: list[join.JoinResult]) -> None:
    now = timezone.now()
    ids = [r.pk for r in runs]
    evidence_field = LineageLink._meta.get_field("evidence")
    prepared: dict[tuple[str, ...], Any] = {}

    def adapt(evidence: list[str]) -> Any:
        """A handful of distinct evidence lists, each adapted to the database's JSON once."""
        key = tuple(evidence)
        if key not in prepared:
            prepared[key] = evidence_field.get_db_prep_value(list(evidence), connection)
        return prepared[key]

    lineages: list[RunLineage] = []
    rows: list[tuple[Any, ...]] = []
    for run, result in zip(runs, results, strict=True):
        lineages.append(
            RunLineage(
                run_id=run.pk,
                verdict=result.verdict,
                commit_sha=result.commit_sha,
                commit_key=result.commit_key,
                resolution=result.resolution,
                dvc_source_id=result.source_id,
                commit_id=result.commit_id,
                lock_commit_id=result.lock_commit_id,
                repro_rule=result.repro_rule,
                stage=result.stage,
                dirty=result.dirty,
                candidates=result.candidates,
                unmatched_inputs=result.unmatched_inputs,
                problems=result.problems,
                computed_at=now,
            )
        )
        for position, link in enumerate(result.links):
            rows.append(
                (
                    run.pk, link.data_version_id, link.source_id, link.commit_id, link.repo, link.path, link.md5,
                    link.size, link.stage, adapt(link.evidence),
                    "\n".join(link.details), position,
                )
            )  # fmt: skip
    with transaction.atomic():
        LineageLink.objects.filter(run_id__in=ids).delete()
        RunLineage.objects.filter(run_id__in=ids).delete()
        RunLineage.objects.bulk_create(lineages, batch_size=500)
        # one executemany: a run at a commit links every data version the commit pins
        insert_rows(LineageLink, LINK_COLUMNS, rows)


def lineage_recompute(*, run_ids: Iterable[int], progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the join for the given runs (primary keys) and return how many were written. Each batch of runs
    is written in one transaction, so a page never shows a run half-joined. Refuses nothing: runs that no longer
    exist are skipped."""
    ids = sorted(set(run_ids))
    index = DvcIndex()
    keys = data_commit_keys()
    done = 0
    for chunk in _chunks(ids, BATCH):
        runs = list(
            Run.objects.filter(pk__in=chunk).only(
                "id", "run_id", "git_commit", "git_repo_url", "source_name", "tags", "params"
            )
        )
        facts = _run_facts(runs)
        shas = [f.git_commit.strip().lower() for f in facts] + [
            str(where.get(key) or "").strip().lower() for f in facts for key in keys for where in (f.tags, f.params)
        ]
        index.preload(shas, [join.plain_md5(i.digest) for f in facts for i in f.inputs])
        results = [join.join_run(f, index, data_commit_keys=keys) for f in facts]
        _write(runs, results)
        done += len(runs)
        if progress is not None:
            progress(done, len(ids))
    return done


def lineage_rebuild(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the join for every run; return how many. Moves every DVC source's cursor to its end first."""
    for source in DvcSource.objects.all():
        _advance_cursor(source.pk)
    return lineage_recompute(run_ids=Run.objects.values_list("pk", flat=True), progress=progress)


def _advance_cursor(source_id: int) -> tuple[JoinCursor, int, int]:
    """Return the source's cursor and the highest commit and data-version keys now (the cursor is saved later)."""
    cursor, _ = JoinCursor.objects.get_or_create(dvc_source_id=source_id)
    last_commit = Commit.objects.filter(source_id=source_id).order_by("-pk").values_list("pk", flat=True).first()
    last_dv = DataVersion.objects.filter(source_id=source_id).order_by("-pk").values_list("pk", flat=True).first()
    return cursor, last_commit or 0, last_dv or 0


def _runs_after_mlflow_sync(syncrun: SyncRun) -> set[int]:
    """Runs the sync wrote (or whose model versions it wrote), and runs never joined yet."""
    source_id = syncrun.source_id
    since = syncrun.started_at or syncrun.created_at
    ids = set(Run.objects.filter(source_id=source_id, synced_at__gte=since).values_list("pk", flat=True))
    ids |= set(
        ModelVersion.objects.filter(source_id=source_id, synced_at__gte=since, run__isnull=False).values_list(
            "run_id", flat=True
        )
    )
    ids |= set(Run.objects.filter(source_id=source_id, lineage__isnull=True).values_list("pk", flat=True))
    return ids


def _lock_blobs(manifest: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((path, blob) for path, blob in manifest.items() if path.rsplit("/", 1)[-1] == _LOCK_NAME))


def _changes_a_lock(source_id: int, after_pk: int) -> bool:
    """Whether a commit added after ``after_pk`` changed a dvc.lock against its first parent: only then can a run
    waiting for the commit that records its ``dvc repro`` be resolved."""
    new = list(
        Commit.objects.filter(source_id=source_id, pk__gt=after_pk, dvc_changed=True).values_list(
            "parents", "snapshot_id"
        )
    )
    if not new:
        return False
    parents = {p[0] for p, _ in new if p}
    parent_snapshots = dict(
        Commit.objects.filter(source_id=source_id, sha__in=parents).values_list("sha", "snapshot_id")
    )
    wanted = {sid for _, sid in new} | set(parent_snapshots.values())
    manifests = dict(Snapshot.objects.filter(pk__in=[w for w in wanted if w]).values_list("pk", "manifest"))
    for commit_parents, snapshot_id in new:
        mine = _lock_blobs(manifests.get(snapshot_id) or {})
        parent = parent_snapshots.get(commit_parents[0]) if commit_parents else None
        if mine != _lock_blobs((manifests.get(parent) if parent is not None else None) or {}):
            return True
    return False


def _runs_after_dvc_sync(syncrun: SyncRun) -> set[int]:
    """Runs whose lineage may have changed with what this DVC sync added: runs at (or naming) a new commit, runs
    waiting for a later dvc.lock in this source, runs whose dataset digest equals a new data version, and every
    run joined to this source after a full sync."""
    source_id = syncrun.source_id
    cursor, last_commit, last_dv = _advance_cursor(source_id)
    new_shas = list(
        Commit.objects.filter(source_id=source_id, pk__gt=cursor.last_commit_pk).values_list("sha", flat=True)
    )
    new_hashes = sorted(
        {
            join.plain_md5(h)
            for h in DataVersion.objects.filter(source_id=source_id, pk__gt=cursor.last_data_version_pk).values_list(
                "hash_value", flat=True
            )
        }
    )
    ids: set[int] = set()
    for chunk in _chunks(new_shas, 500):
        ids |= set(Run.objects.filter(git_commit__in=chunk).values_list("pk", flat=True))
        ids |= set(RunLineage.objects.filter(commit_sha__in=chunk).values_list("run_id", flat=True))
    for chunk in _chunks(new_hashes, 500):
        ids |= set(DatasetInput.objects.filter(digest__in=chunk).values_list("run_id", flat=True))
    waiting = Q(resolution=Resolution.AMBIGUOUS)
    if _changes_a_lock(source_id, cursor.last_commit_pk):
        waiting |= Q(repro_rule=ReproRule.PENDING, dvc_source_id=source_id)
    ids |= set(RunLineage.objects.filter(waiting).values_list("run_id", flat=True))
    if syncrun.full:
        ids |= set(RunLineage.objects.filter(dvc_source_id=source_id).values_list("run_id", flat=True))
        ids |= set(LineageLink.objects.filter(dvc_source_id=source_id).values_list("run_id", flat=True))
    ids |= set(Run.objects.filter(lineage__isnull=True).values_list("pk", flat=True))
    cursor.last_commit_pk, cursor.last_data_version_pk = last_commit, last_dv
    lineage_recompute(run_ids=ids)
    cursor.save(update_fields=["last_commit_pk", "last_data_version_pk"])
    return ids


def lineage_after_sync(syncrun: SyncRun) -> int:
    """The post-sync hook: recompute the join for what the finished sync changed; return how many runs."""
    if syncrun.kind == "mlflow":
        return lineage_recompute(run_ids=_runs_after_mlflow_sync(syncrun))
    if syncrun.kind == "dvc":
        return len(_runs_after_dvc_sync(syncrun))
    return 0
