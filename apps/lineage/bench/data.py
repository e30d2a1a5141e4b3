"""The joined data ``bench_lineage`` measures: two generated DVC repositories mirrored into the bench database, then
an MLflow store whose runs name those repositories' commits and log the md5s they pin, mirrored too.

The repositories come from the DVC bench generator (``apps.dvc_sync.benchrepo``): ``history`` has the shape
``bench_dvc`` measures (2,000 commits, 300 changing DVC files, 40 stages, 100 tracked files), ``wide`` a short
history of a wide pipeline (110 stages, 260 tracked files: ~390 data versions pinned per commit), so that the runs at
its head have a lineage graph of ~500 nodes. The store comes from the MLflow bench generator with ``StoreLinks``
(``apps.mlflow_sync.benchstore``): the same runs as ``bench_mlflow``'s store, joined. Everything lives in
``<folder>/lineage`` and is reused while its parameters stay the same (the store is keyed by what the mirrored
repositories pin, read back from the mirror).

The sources it adds (``bench-lineage``, ``bench-lineage-dvc``, ``bench-lineage-wide``) belong to the benchmark:
``fresh_*`` deletes them with everything mirrored from them before adding them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from apps.core import services as core_services
from apps.core.bench import BenchError, timed
from apps.core.models import SyncRun
from apps.dvc_sync.benchrepo import BenchRepo, ensure_bench_repo
from apps.dvc_sync.models import Commit, DvcSource, Pin
from apps.dvc_sync.services import dvc_source_add, dvc_source_delete_clone
from apps.mlflow_sync.benchstore import LinkedCommits, StoreLinks, ensure_bench_store
from apps.mlflow_sync.models import MlflowSource
from apps.mlflow_sync.services import mlflow_source_add

MLFLOW_SOURCE = "bench-lineage"
HISTORY_SOURCE = "bench-lineage-dvc"
WIDE_SOURCE = "bench-lineage-wide"

Write = Callable[[str], Any]


@dataclass(frozen=True)
class RepoSize:
    """The DVC bench generator's parameters for one repository."""

    commits: int
    dvc_commits: int
    stages: int
    tracked: int


HISTORY = RepoSize(commits=2_000, dvc_commits=300, stages=40, tracked=100)  # bench_dvc's repository
WIDE = RepoSize(commits=20, dvc_commits=4, stages=110, tracked=260)


def ensure_repo(folder: Path, size: RepoSize, write: Write) -> BenchRepo:
    """The generated repository ``folder/dvc-repo`` of ``size`` (``ensure_bench_repo``: reused, its branch moved
    back to the stamped head, or built)."""
    return ensure_bench_repo(
        folder, commits=size.commits, dvc_commits=size.dvc_commits, stages=size.stages, tracked=size.tracked, log=write
    )


def _release_stale_syncs(kind: str, name: str) -> None:
    """Fail any active ``SyncRun`` of a bench source left by an interrupted benchmark: it would block a new sync."""
    SyncRun.objects.filter(kind=kind, source_name=name, status__in=SyncRun.ACTIVE).update(
        status=SyncRun.Status.FAILED, finished_at=timezone.now(), error="Abandoned by an interrupted benchmark."
    )


def delete_sources() -> None:
    """Delete the bench's MLflow source (its runs, and with them their lineage) and then its DVC sources with
    their clones."""
    MlflowSource.objects.filter(name=MLFLOW_SOURCE).delete()
    for old in DvcSource.objects.filter(name__in=[HISTORY_SOURCE, WIDE_SOURCE]):
        dvc_source_delete_clone(old)
        old.delete()


def fresh_dvc_source(name: str, repo: BenchRepo) -> DvcSource:
    """Delete the DVC source ``name`` (cascade, and its clone) and add it again over ``repo``: an empty mirror."""
    for old in DvcSource.objects.filter(name=name):
        dvc_source_delete_clone(old)
        old.delete()
    _release_stale_syncs("dvc", name)
    return dvc_source_add(name=name, location=str(repo.path))[0]


def fresh_mlflow_source(store: Path) -> MlflowSource:
    """Delete the MLflow source ``bench-lineage`` (cascade) and add it again over the SQLite ``store``."""
    MlflowSource.objects.filter(name=MLFLOW_SOURCE).delete()
    _release_stale_syncs("mlflow", MLFLOW_SOURCE)
    return mlflow_source_add(name=MLFLOW_SOURCE, tracking_uri=f"sqlite:///{store}")[0]


def sync(kind: str, source_id: int, *, full: bool) -> tuple[float, SyncRun]:
    """Time one ``sync_source`` (its post-sync hooks, the lineage join among them, included). Returns (seconds,
    the finished SyncRun); refuses (``BenchError``) a sync that did not succeed."""
    seconds, run = timed(lambda: core_services.sync_source(kind=kind, source_id=source_id, full=full))
    if run.status != SyncRun.Status.SUCCEEDED:
        raise BenchError(f"The {kind} sync of {run.source_name} failed: {run.error}")
    return seconds, run


def linked_commits(source: DvcSource) -> LinkedCommits:
    """What the runs may name and log, read from the mirror: the source's commits in history order, each with the
    ``.dvc``-tracked data (path, md5) its snapshot pins. Two queries. Refuses (``BenchError``) a source without
    commits."""
    commits = list(Commit.objects.filter(source=source).order_by("position").values_list("sha", "snapshot_id"))
    if not commits:
        raise BenchError(f"The DVC source {source.name} mirrored no commits.")
    pinned: dict[int, list[tuple[str, str]]] = {}
    for snapshot_id, path, md5 in Pin.objects.filter(
        snapshot__source=source, role=Pin.Role.OUT, dvcfile__endswith=".dvc"
    ).values_list("snapshot_id", "data_version__path", "data_version__hash_value"):
        pinned.setdefault(snapshot_id, []).append((path, md5.removesuffix(".dir")))
    order = sorted({s for _, s in commits if s is not None})
    index = {snapshot_id: i for i, snapshot_id in enumerate(order)}
    snapshots = tuple(tuple(sorted(pinned.get(s, []))) for s in order) + ((),)  # the last: commits without one
    return LinkedCommits(
        commits=tuple((sha, index[s] if s is not None else len(order)) for sha, s in commits), snapshots=snapshots
    )


@dataclass
class BenchData:
    """The mirrored bench data: the repositories, their sources and first syncs, and the MLflow store."""

    history: BenchRepo
    wide: BenchRepo
    history_source: DvcSource
    wide_source: DvcSource
    dvc_syncs: list[tuple[float, SyncRun]]
    store: Path


def prepare(folder: Path, *, runs: int, versions: int, history: RepoSize, wide: RepoSize, write: Write) -> BenchData:
    """Build (or reuse) both repositories, mirror them into fresh DVC sources (full syncs, timed), and build (or
    reuse) the MLflow store joined to what they pin, with ``versions`` model versions (10 models, or one per
    version below 10). The MLflow side is not synced here: that sync is the join the benchmark measures."""
    history_repo = ensure_repo(folder / "history", history, write)
    wide_repo = ensure_repo(folder / "wide", wide, write)
    syncs = []
    sources = []
    for name, repo in ((HISTORY_SOURCE, history_repo), (WIDE_SOURCE, wide_repo)):
        write(f"Mirroring the DVC repository {repo.path.parent.name} ({repo.commits:,} commits) as {name}…")
        source = fresh_dvc_source(name, repo)
        done = sync("dvc", source.pk, full=True)
        write(f"  {done[0]:.1f} s ({done[1].message})")
        syncs.append(done)
        sources.append(source)
    links = StoreLinks(history=linked_commits(sources[0]), wide=linked_commits(sources[1]))
    models = min(10, versions)
    store = ensure_bench_store(
        folder, runs=runs, models=models, versions_per_model=-(-versions // models), links=links, log=write
    )
    return BenchData(history_repo, wide_repo, sources[0], sources[1], syncs, store)
