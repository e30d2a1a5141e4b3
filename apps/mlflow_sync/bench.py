"""The sync benchmark behind ``manage.py bench_mlflow``: MLflow's own client against the mirror's sync, measured.

Every figure is a wall-clock time taken in this process with ``time.perf_counter`` after the imports and one
warm-up call, except the peak RSS, which is read from a fresh ``manage.py sync_mlflow`` process (``ru_maxrss``).
The benchmark owns the MLflow sources named ``bench-sql`` and ``bench-rest`` in the database it runs against: it
deletes them (cascade) before every full sync, so "full" always starts from an empty mirror, and deletes them again
at the end. Run it against a database of its own (``DATABASE_URL=sqlite:///…/var/bench/site.sqlite3``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core import services as core_services
from apps.core.bench import BenchError, Figure, format_figures, free_port, peak_rss, serving, timed
from apps.core.models import SyncRun
from apps.mlflow_sync import client as mlflow_client
from apps.mlflow_sync.benchstore import ensure_bench_store
from apps.mlflow_sync.models import MlflowSource, ModelVersion, Run
from apps.mlflow_sync.services import mlflow_source_add
from apps.mlflow_sync.sqlstore import SqlStore

SQL_SOURCE = "bench-sql"
REST_SOURCE = "bench-rest"
PAGE_SIZE = mlflow_client.PAGE_SIZE  # what the sync's client path pages with; MLflow's default too
VIEW_TYPE_ALL = 3  # mlflow.entities.ViewType.ALL (only apps.mlflow_sync.client may import mlflow)

# The targets: a time ratio (full sync ÷ reference, re-sync ÷ full sync) or a peak RSS in MB, at most this.
TARGET_SQL_FULL_RATIO = 0.2
TARGET_SQL_RESYNC_RATIO = 0.05
TARGET_SQL_PEAK_RSS_MB = 400.0
TARGET_REST_FULL_RATIO = 1.0

Write = Callable[[str], Any]


# --- helpers ------------------------------------------------------------------------------------------------------
def _release_stale_syncs(name: str) -> None:
    """Fail any active ``SyncRun`` of a bench source left by an interrupted benchmark: it would block a new sync."""
    SyncRun.objects.filter(kind="mlflow", source_name=name, status__in=SyncRun.ACTIVE).update(
        status=SyncRun.Status.FAILED, finished_at=timezone.now(), error="Abandoned by an interrupted benchmark."
    )


def _fresh_source(name: str, tracking_uri: str) -> MlflowSource:
    """Delete the source named ``name`` with everything mirrored from it (cascade) and add it again: an empty
    mirror. Returns the new source."""
    MlflowSource.objects.filter(name=name).delete()
    _release_stale_syncs(name)
    return mlflow_source_add(name=name, tracking_uri=tracking_uri)[0]


def _sync(source: MlflowSource, *, expect_runs: int | None) -> tuple[float, SyncRun, float]:
    """Time one ``sync_source`` (not ``full``: the mirror decides what changed). Returns (seconds of the sync,
    the finished SyncRun, seconds of the post-sync hooks after it: the lineage join, which ``bench_lineage``
    measures as a workload of its own). Refuses (``BenchError``) a failed sync, or a mirror without ``expect_runs``
    runs afterwards."""
    seconds, run = timed(lambda: core_services.sync_source(kind="mlflow", source_id=source.pk, full=False))
    if run.started_at is not None and run.finished_at is not None:
        mirrored_s = (run.finished_at - run.started_at).total_seconds()
        seconds, hooks_s = mirrored_s, max(0.0, seconds - mirrored_s)
    else:
        hooks_s = 0.0
    if run.status != SyncRun.Status.SUCCEEDED:
        raise BenchError(f"The sync of {source.name} failed: {run.error}")
    if expect_runs is not None:
        mirrored = Run.objects.filter(source=source).count()
        if mirrored != expect_runs:
            raise BenchError(f"The sync of {source.name} mirrored {mirrored} runs, not {expect_runs}.")
    return seconds, run, hooks_s


def _reference(uri: str) -> tuple[float, int, int]:
    """List every run (all experiments, deleted ones included, paged) and every model version (paged) with
    MLflow's own client, after one warm-up call. Returns (seconds, runs listed, versions listed)."""
    with mlflow_client.mlflow_environment():
        client = mlflow_client.make_client(uri, uri)
        # The warm-up call: opens the store (SQLAlchemy engine, schema check) or the HTTP session.
        experiment_ids = [
            e.experiment_id
            for e in mlflow_client.paged(
                lambda t: client.search_experiments(view_type=VIEW_TYPE_ALL, max_results=PAGE_SIZE, page_token=t)
            )
        ]

        def listing() -> tuple[int, int]:
            runs = sum(
                1
                for _ in mlflow_client.paged(
                    lambda t: client.search_runs(experiment_ids, "", VIEW_TYPE_ALL, max_results=PAGE_SIZE, page_token=t)
                )
            )
            versions = sum(
                1
                for _ in mlflow_client.paged(
                    lambda t: client.search_model_versions(max_results=PAGE_SIZE, page_token=t)
                )
            )
            return runs, versions

        seconds, (runs, versions) = timed(listing)
    return seconds, runs, versions


def _warm_up_sql(uri: str) -> None:
    """The warm-up call before a SQL-path sync: open the store and read its experiments, and touch the mirror."""
    with SqlStore(uri) as store:
        store.experiments()
    MlflowSource.objects.exists()


def _warm_up_rest(url: str) -> None:
    """The warm-up call before a REST-path sync: one small request to the server, and touch the mirror."""
    with mlflow_client.mlflow_environment():
        mlflow_client.make_client(url, url).search_experiments(max_results=1)
    MlflowSource.objects.exists()


def _peak_rss_of_sync(name: str, folder: Path) -> tuple[float, float]:
    """Run ``manage.py sync_mlflow --source NAME --no-progress`` in a fresh process with this environment and
    return (its peak RSS in MB, its wall seconds including start-up), as ``apps.core.bench.peak_rss`` measures them.
    Refuses (``BenchError``) a non-zero exit, with the end of its output (kept in ``folder/rss-NAME.log``)."""
    command = [sys.executable, "manage.py", "sync_mlflow", "--source", name, "--no-progress"]
    return peak_rss(command, log_path=folder / f"rss-{name}.log", env=dict(os.environ))


# --- the MLflow server (REST path) --------------------------------------------------------------------------------
@contextmanager
def mlflow_server(store: Path, folder: Path) -> Iterator[str]:
    """A real ``mlflow server`` (one worker, no job execution) over ``store`` on a free 127.0.0.1 port, in its own
    process group; yields its URL and stops the group on the way out, errors included. Raises ``BenchError`` when
    it does not answer ``/health`` within 90 s (its log's end is in the message)."""
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_REGISTRY_URI", None)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{store}",
        "--default-artifact-root", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serving(
        command, ready_url=url + "/health", name="mlflow server", log_path=folder / f"server-{port}.log",
        cwd=folder, env=env, timeout_s=90,
    ):  # fmt: skip
        yield url


@contextmanager
def mlflow_server_over_copy(store: Path, folder: Path) -> Iterator[str]:
    """``mlflow_server`` over a copy of ``store`` in ``folder/rest`` (emptied first), so that what the server or a
    sync through it writes never reaches the store; yields its URL. The copy is removed on the way out, errors
    included; the server's log stays in ``folder/rest``."""
    rest = folder / "rest"
    shutil.rmtree(rest, ignore_errors=True)
    rest.mkdir(parents=True)
    copy = rest / "mlflow.db"
    shutil.copyfile(store, copy)
    try:
        with mlflow_server(copy, rest) as url:
            yield url
    finally:
        copy.unlink(missing_ok=True)  # 200 MB; the server's log stays next to it


# --- the benchmark ------------------------------------------------------------------------------------------------
@dataclass
class _PathTimes:
    reference_s: float
    listed: int
    listed_versions: int
    full_s: float
    full_run: SyncRun
    resync_s: float
    resync_run: SyncRun


def _time_path(
    label: str,
    where: str,
    uri: str,
    source_name: str,
    warm_up: Callable[[str], None],
    runs: int,
    versions: int,
    write: Write,
) -> _PathTimes:
    """The three timings both paths share: MLflow's client listing everything (the reference), a full sync into an
    empty mirror and a no-change re-sync. Refuses (``BenchError``) a listing or mirror short of runs or versions."""
    write(f"{label} path: MLflow's client {where} (reference)…")
    ref_s, listed, listed_versions = _reference(uri)
    if listed != runs or listed_versions != versions:
        raise BenchError(f"MLflow's client listed {listed} runs and {listed_versions} versions, not {runs}/{versions}.")
    write(f"  {ref_s:.2f} s")

    write(f"{label} path: full sync into an empty mirror…")
    source = _fresh_source(source_name, uri)
    warm_up(uri)
    full_s, full_run, hooks_s = _sync(source, expect_runs=runs)
    mirrored_versions = ModelVersion.objects.filter(source=source).count()
    if mirrored_versions != versions:
        raise BenchError(f"The {label} sync mirrored {mirrored_versions} versions, not {versions}.")
    write(f"  {full_s:.2f} s ({full_run.message}); then the lineage join (post-sync hook) {hooks_s:.1f} s")

    write(f"{label} path: no-change re-sync…")
    resync_s, resync_run, _ = _sync(source, expect_runs=runs)
    write(f"  {resync_s:.3f} s ({resync_run.message})")
    return _PathTimes(ref_s, listed, listed_versions, full_s, full_run, resync_s, resync_run)


def _sql_figures(uri: str, folder: Path, runs: int, versions: int, write: Write) -> list[Figure]:
    """Figures 1-4 on the SQLite store at ``uri``: reference, full sync, no-change re-sync, peak RSS. Returns them;
    refuses (``BenchError``) a listing or a mirror that does not hold ``runs`` runs and ``versions`` versions."""
    t = _time_path("SQL", "over the SQLite store", uri, SQL_SOURCE, _warm_up_sql, runs, versions, write)
    write("SQL path: full sync in a fresh `manage.py sync_mlflow` process (peak RSS)…")
    _fresh_source(SQL_SOURCE, uri)
    rss_mb, rss_s = _peak_rss_of_sync(SQL_SOURCE, folder)
    if Run.objects.filter(source__name=SQL_SOURCE).count() != runs:
        raise BenchError("The subprocess sync did not mirror every run.")
    write(f"  {rss_mb:.0f} MB ({rss_s:.1f} s including start-up)")
    return [
        Figure("sql_reference", "SQL  reference: MlflowClient runs + versions", seconds=t.reference_s,
               note=f"{t.listed:,} runs, {t.listed_versions} versions"),
        Figure("sql_full_sync", "SQL  full sync, empty mirror", seconds=t.full_s, value=t.full_s / t.reference_s,
               unit="x ref", target=TARGET_SQL_FULL_RATIO, note=t.full_run.message),
        Figure("sql_resync", "SQL  no-change re-sync", seconds=t.resync_s, value=t.resync_s / t.full_s,
               unit="x full", target=TARGET_SQL_RESYNC_RATIO, note=t.resync_run.message),
        Figure("sql_peak_rss", "SQL  peak RSS, full sync (fresh process)", seconds=rss_s, value=rss_mb,
               unit="MB", target=TARGET_SQL_PEAK_RSS_MB, note="time includes process start-up"),
    ]  # fmt: skip


def _rest_figures(store: Path, folder: Path, runs: int, versions: int, write: Write) -> list[Figure]:
    """Figure 5: reference, full sync and no-change re-sync against ``mlflow_server_over_copy`` of ``store``.
    Returns the REST figures; refuses (``BenchError``) like ``_sql_figures``."""
    write("REST path: starting `mlflow server` over a copy of the store…")
    with mlflow_server_over_copy(store, folder) as url:
        write(f"  {url}")
        t = _time_path("REST", "against the server", url, REST_SOURCE, _warm_up_rest, runs, versions, write)
    return [
        Figure("rest_reference", "REST reference: MlflowClient runs + versions", seconds=t.reference_s,
               note=f"{t.listed:,} runs, {t.listed_versions} versions"),
        Figure("rest_full_sync", "REST full sync, empty mirror", seconds=t.full_s, value=t.full_s / t.reference_s,
               unit="x ref", target=TARGET_REST_FULL_RATIO, note=t.full_run.message),
        Figure("rest_resync", "REST no-change re-sync", seconds=t.resync_s, value=t.resync_s / t.full_s,
               unit="x full", note=t.resync_run.message),
    ]  # fmt: skip


def run_benchmark(*, runs: int, folder: Path, skip_rest: bool = False, write: Write = print) -> dict[str, Any]:
    """Build (or reuse) the store, measure every figure, print the table, write ``folder/results.json`` and
    return what it wrote. The bench sources are deleted again at the end, also on errors. Raises ``BenchError``
    when something could not be measured (a failed sync, a wrong count, a server that does not start)."""
    folder = folder.resolve()
    store = ensure_bench_store(folder, runs=runs, log=write)
    uri = f"sqlite:///{store}"
    with SqlStore(uri) as reader:
        versions = sum(len(m.versions) for m in reader.registry())
    figures: list[Figure] = []
    load_before = os.getloadavg()[0]
    try:
        figures += _sql_figures(uri, folder, runs, versions, write)
        if not skip_rest:
            figures += _rest_figures(store, folder, runs, versions, write)
    finally:
        for name in (SQL_SOURCE, REST_SOURCE):
            MlflowSource.objects.filter(name=name).delete()
    load = (load_before, os.getloadavg()[0])
    results = {
        "runs": runs,
        "model_versions": versions,
        "store": str(store),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "measured_at": timezone.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "figures": [{**asdict(f), "passed": f.passed} for f in figures],
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for line in format_table(figures, runs=runs, versions=versions, store=store, load=load):
        write(line)
    write(f"Figures written to {folder / 'results.json'}")
    return results


def format_table(
    figures: list[Figure], *, runs: int, versions: int, store: Path, load: tuple[float, float] = (0.0, 0.0)
) -> list[str]:
    """The result table as lines (``apps.core.bench.format_figures``) under a header naming the store and the
    machine's load (1-minute load average before and after)."""
    title = [
        "",
        f"MLflow sync benchmark: {runs:,} runs, {versions} model versions ({store})",
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} before, {load[1]:.2f} after",
    ]
    return format_figures(figures, title=title)
