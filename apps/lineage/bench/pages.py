"""The join, the model version page and the impact query, timed in this process: the join from the post-sync
hook's own report of its duration, a page through Django's test client (the server's time, without the network),
the impact query through the selectors the data version page uses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from apps.core.bench import BenchError, Figure
from apps.dvc_sync.benchrepo import add_commits
from apps.dvc_sync.models import DataVersion
from apps.lineage import graph as lineage_graph
from apps.lineage import selectors
from apps.lineage.bench import data as benchdata
from apps.lineage.bench.timing import Write, bench_client, count_queries, ms, page_url, percentile, spread, time_each
from apps.lineage.models import LineageLink, RunLineage
from apps.mlflow_sync.models import DatasetInput, ModelVersion

# The targets (the issue): milliseconds, and ratios to MLflow's REST way.
TARGET_PAGE_P95_MS = 100.0
TARGET_PAGE_RATIO = 1.0
TARGET_IMPACT_P95_MS = 50.0
TARGET_IMPACT_RATIO = 0.05


# --- the join -----------------------------------------------------------------------------------------------------
@contextmanager
def hook_reports() -> Iterator[list[tuple[int, float]]]:
    """Collect (runs recomputed, seconds) from the lineage post-sync hook's log line while the block runs."""
    logger = logging.getLogger("apps.lineage.hooks")
    found: list[tuple[int, float]] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            args = record.args if isinstance(record.args, tuple) else ()
            if str(record.msg).startswith("lineage: recomputed") and len(args) == 4:
                found.append((int(str(args[0])), float(str(args[3]))))

    handler, level = Catch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _synced_with_hook(kind: str, source_id: int, *, full: bool) -> tuple[float, float, int, str]:
    """Sync, and return (sync seconds in all, the lineage hook's seconds, runs it recomputed, the sync's message).
    Refuses (``BenchError``) a failed sync or a hook that did not report."""
    with hook_reports() as reports:
        seconds, run = benchdata.sync(kind, source_id, full=full)
    if not reports:
        raise BenchError("The lineage post-sync hook did not report a recomputation (is apps.lineage installed?).")
    count, hook_s = reports[-1]
    return seconds, hook_s, count, run.message


def join_figures(data: benchdata.BenchData, write: Write) -> list[Figure]:
    """The full join (the MLflow sync's post-sync hook over every run) and the recomputation after one more DVC
    commit (the DVC sync's hook)."""
    write("Mirroring the joined MLflow store (the post-sync hook joins every run)…")
    source = benchdata.fresh_mlflow_source(data.store)
    sync_s, join_s, joined, message = _synced_with_hook("mlflow", source.pk, full=False)
    links = LineageLink.objects.filter(run__source=source).count()
    verdicts = dict(
        RunLineage.objects.filter(run__source=source).values_list("verdict").annotate(n=Count("pk")).order_by()
    )
    write(f"  {sync_s:.1f} s, of which the join {join_s:.1f} s ({message}; {links:,} links)")
    write("One more DVC commit, synced (the hook recomputes what it may change)…")
    add_commits(data.history.path, 1)
    dvc_s, again_s, again, _ = _synced_with_hook("dvc", data.history_source.pk, full=False)
    write(f"  {dvc_s:.2f} s, of which the join {again_s:.2f} s ({again:,} runs)")
    verdict_text = ", ".join(f"{n:,} {v}" for v, n in sorted(verdicts.items()))
    return [
        Figure("join_full", f"lineage join, {joined:,} runs", seconds=join_s,
               note=f"post-sync hook of the MLflow sync ({sync_s:.1f} s in all); {links:,} links; {verdict_text}"),
        Figure("join_incremental", "lineage recompute after 1 new DVC commit", seconds=again_s,
               note=f"{again:,} runs recomputed; the DVC sync {dvc_s:.2f} s in all"),
    ]  # fmt: skip


# --- the model version page ---------------------------------------------------------------------------------------
def _page_getter(client: Client, versions: list[ModelVersion]) -> tuple[Callable[[ModelVersion], object], str]:
    """How to ask for a model version page: the dashboard's page when it answers 200, else the selectors it is
    built on (another engineer may still be building the page). Returns (the call, a note saying which)."""
    try:
        response = client.get(page_url(versions[0]))
        failure = f"it answered {response.status_code}" if response.status_code != 200 else ""
    except Exception as exc:  # the page is somebody's work in progress: whatever stops it, say so and fall back
        failure = f"{type(exc).__name__}: {exc}"
    if not failure:
        return (lambda v: client.get(page_url(v))), "the page through Django's test client"

    def by_selectors(v: ModelVersion) -> object:
        version = selectors.model_version_get(name=v.model.name, version=v.version, source=v.source.name)
        view = selectors.version_lineage(version)
        selectors.version_verdict(version)
        return lineage_graph.graph_json(view.graph)

    return by_selectors, f"the page's selectors only: the page is not served ({failure[:120]})"


def page_figures(versions: list[ModelVersion], user: User, rest: dict[str, list[float]], write: Write) -> list[Figure]:
    client = bench_client(user)
    get, how = _page_getter(client, versions)
    write(f"Model version page, {len(versions)} versions ({how})…")
    times = time_each(versions, get)
    queries = count_queries(get, spread(versions, 10))
    links = [LineageLink.objects.filter(run__model_versions=v).count() for v in versions]
    p50, p95 = ms(times)
    write(f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms; {min(queries)}-{max(queries)} queries a page")
    figures = [
        Figure("page_p50", f"model version page p50 ({len(versions)} versions)", value=p50, unit="ms",
               note=f"{how}; {min(queries)}-{max(queries)} SQL queries and {min(links)}-{max(links)} data links "
                    f"a page (median {percentile([float(n) for n in links], 50):.0f})"),
        Figure("page_p95", "model version page p95", value=p95, unit="ms", target=TARGET_PAGE_P95_MS),
    ]  # fmt: skip
    if rest.get("version"):
        r50, r95 = ms(rest["version"])
        figures += [
            Figure("rest_version_p50", "MLflow REST version + run p50", value=r50, unit="ms",
                   note="MlflowClient.get_model_version + get_run (run, dataset inputs) per version"),
            Figure("rest_version_p95", "MLflow REST version + run p95", value=r95, unit="ms"),
            Figure("page_ratio_p95", "model version page p95 / MLflow REST p95", value=p95 / r95, unit="x REST",
                   target=TARGET_PAGE_RATIO),
            Figure("page_ratio_p50", "model version page p50 / MLflow REST p50", value=p50 / r50, unit="x REST",
                   target=TARGET_PAGE_RATIO),
        ]  # fmt: skip
    return figures


# --- the impact query ---------------------------------------------------------------------------------------------
def impact_data_versions(data: benchdata.BenchData, mlflow_source_id: int, k: int) -> list[DataVersion]:
    """``k`` data versions of the history source, spread evenly by key, whose md5 some run logged as a dataset
    digest (so MLflow's own search finds runs for them too). Refuses (``BenchError``) a store whose runs logged no
    digest the history pins: the data would not be joined."""
    digests = DatasetInput.objects.filter(run__source_id=mlflow_source_id).values("digest")
    found = list(
        DataVersion.objects.filter(source=data.history_source, hash_value__in=digests)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not found:
        raise BenchError("No run of the joined store logged a digest of the DVC history: the data is not joined.")
    return list(DataVersion.objects.filter(pk__in=spread(found, k)).order_by("pk"))


def impact_query(dv: DataVersion) -> object:
    """What a data version impacts, as the data version page asks its selectors (without the page): the version,
    the first page of runs linked to it each with its model versions, and the counts and serving versions over all of
    them: ``selectors.data_impact``, the one selector the page and the API use."""
    return selectors.data_impact(selectors.data_version_get(dv.pk))


def _data_page_getter(client: Client, sample: list[DataVersion]) -> tuple[Callable[[DataVersion], object], str]:
    """How to ask for the data version page through the test client, and why it cannot be timed ("" when it
    answers 200)."""
    try:
        status = client.get(reverse("lineage:data_version", args=[sample[0].pk])).status_code
        failure = f"it answered {status}" if status != 200 else ""
    except Exception as exc:  # the page is somebody's work in progress: whatever stops it, say so
        failure = f"{type(exc).__name__}: {exc}"
    return (lambda dv: client.get(reverse("lineage:data_version", args=[dv.pk]))), failure


def impact_figures(sample: list[DataVersion], user: User, rest: dict[str, list[float]], write: Write) -> list[Figure]:
    write(f"Impact query of a data version, {len(sample)} data versions…")
    times = time_each(sample, impact_query)
    runs = [
        LineageLink.objects.filter(data_version=dv).values("run_id").distinct().count() for dv in spread(sample, 10)
    ]
    queries = count_queries(impact_query, spread(sample, 5))
    p50, p95 = ms(times)
    write(f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    how = "selectors.data_impact (first page of runs + model versions + summary)"
    figures = [
        Figure("impact_p50", f"impact query p50 ({len(sample)} data versions)", value=p50, unit="ms",
               note=f"{how}; {min(runs):,}-{max(runs):,} runs linked each, {min(queries)}-{max(queries)} SQL queries"),
        Figure("impact_p95", "impact query p95", value=p95, unit="ms", target=TARGET_IMPACT_P95_MS),
    ]  # fmt: skip
    if rest.get("impact"):
        r50, r95 = ms(rest["impact"])
        figures += [
            Figure("rest_impact_p50", f"MLflow REST impact p50 ({len(rest['impact'])} digests)", value=r50, unit="ms",
                   note="search_runs(datasets.digest = md5) over every experiment + search_model_versions per run; "
                        f"{rest['impact_runs'][0]:.0f}-{rest['impact_runs'][1]:.0f} runs found"),
            Figure("rest_impact_p95", "MLflow REST impact p95", value=r95, unit="ms"),
            Figure("impact_ratio_p95", "impact query p95 / MLflow REST p95", value=p95 / r95, unit="x REST",
                   target=TARGET_IMPACT_RATIO),
            Figure("impact_ratio_p50", "impact query p50 / MLflow REST p50", value=p50 / r50, unit="x REST",
                   target=TARGET_IMPACT_RATIO),
        ]  # fmt: skip
    page, failure = _data_page_getter(bench_client(user), sample)
    if failure:
        write(f"  the data version page is not served ({failure[:120]}): not timed")
        return figures
    write(f"Data version page (the impact, its timeline, rendered), {len(sample)} data versions…")
    page_times = time_each(sample, page)
    d50, d95 = ms(page_times)
    write(f"  p50 {d50:.1f} ms, p95 {d95:.1f} ms")
    figures += [
        Figure("data_page_p50", "data version page p50", value=d50, unit="ms",
               note=f"through Django's test client; {min(count_queries(page, spread(sample, 5)))}+ SQL queries"),
        Figure("data_page_p95", "data version page p95", value=d95, unit="ms"),
    ]  # fmt: skip
    return figures
