"""The lineage benchmark behind ``manage.py bench_lineage``: the join, the model version page, the impact query and
the lineage graph in a browser, measured on joined bench data (``data``) and against MLflow's own REST API
(``rest``): the join, the pages and the impact query in ``pages``, the browser in ``browser``.

Timings are wall-clock (``time.perf_counter``) in this process after a warm-up call, except the join (read from the
post-sync hook's own report of its duration) and the browser draw (``performance.now()`` in the page: from the
navigation's start to the graph's ``data-ready="1"``). A page is timed through Django's test client in this
process: the server's time, without the network. MLflow's side is a real ``mlflow server`` over a copy of the
store, asked with ``MlflowClient`` as a user without the dashboard would. The benchmark owns the sources named in
``data`` and a user ``bench-lineage``; it deletes them at the end (``keep=False``). Run it against a database of
its own (``DATABASE_URL=sqlite:///…/var/bench/site.sqlite3``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.test.utils import override_settings
from django.utils import timezone

from apps.core.bench import BenchError, format_figures
from apps.lineage.bench import data as benchdata
from apps.lineage.bench.browser import browser_figures
from apps.lineage.bench.data import RepoSize
from apps.lineage.bench.pages import impact_data_versions, impact_figures, join_figures, page_figures
from apps.lineage.bench.rest import measure_rest
from apps.lineage.bench.timing import Write, bench_user, spread
from apps.mlflow_sync.models import ModelVersion

__all__ = ["BenchError", "run_benchmark"]


def run_benchmark(
    *,
    folder: Path,
    runs: int = 20_000,
    versions: int = 200,
    history: RepoSize = benchdata.HISTORY,
    wide: RepoSize = benchdata.WIDE,
    impact_sample: int = 200,
    rest_impact_sample: int = 15,
    draws: int = 7,
    skip_rest: bool = False,
    skip_browser: bool = False,
    keep: bool = False,
    write: Write = print,
) -> dict[str, Any]:
    """Build (or reuse) the joined bench data in ``folder/lineage``, mirror it (timing the join), measure every
    figure, print the table, write ``folder/lineage-results.json`` and return what it wrote. The bench sources and
    user are deleted at the end, also on errors, unless ``keep``. Raises ``BenchError`` when something could not be
    measured."""
    folder = folder.resolve()
    work = folder / "lineage"
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    user: User | None = None
    with override_settings(DVC_REPOS_DIR=work / "repos"):
        try:
            benchdata.delete_sources()
            data = benchdata.prepare(work, runs=runs, versions=versions, history=history, wide=wide, write=write)
            figures = join_figures(data, write)
            user = bench_user()
            mlflow_source_id = (
                ModelVersion.objects.filter(source__name=benchdata.MLFLOW_SOURCE)
                .values_list("source_id", flat=True)
                .first()
            )
            model_versions = list(
                ModelVersion.objects.filter(source__name=benchdata.MLFLOW_SOURCE, deleted=False)
                .select_related("model", "source")
                .order_by("model__name", "version")
            )
            if not model_versions or mlflow_source_id is None:
                raise BenchError("The joined store's model versions were not mirrored.")
            sample = impact_data_versions(data, mlflow_source_id, impact_sample)
            rest: dict[str, list[float]] = {}
            if not skip_rest:
                digests = [dv.hash_value for dv in spread(sample, rest_impact_sample)]
                rest = measure_rest(data.store, work, model_versions, digests, write)
            figures += page_figures(model_versions, user, rest, write)
            figures += impact_figures(sample, user, rest, write)
            if not skip_browser:
                figures += browser_figures(data, user, work, draws, write)
        finally:
            if user is not None:
                user.delete()
            if not keep:
                benchdata.delete_sources()
    load = (load_before, os.getloadavg()[0])
    results = {
        "runs": runs,
        "model_versions": len(model_versions),
        "history_repository": asdict(history),
        "wide_repository": asdict(wide),
        "store": str(data.store),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "measured_at": timezone.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "figures": [{**asdict(f), "passed": f.passed} for f in figures],
    }
    (folder / "lineage-results.json").write_text(json.dumps(results, indent=2) + "\n")
    title = [
        "",
        f"Lineage benchmark: {runs:,} runs, {len(model_versions)} model versions, joined to a DVC history of "
        f"{history.commits:,} commits ({history.stages} stages) and a {wide.stages}-stage pipeline ({data.store})",
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} before, {load[1]:.2f} after",
    ]
    for line in format_figures(figures, title=title):
        write(line)
    write(f"Figures written to {folder / 'lineage-results.json'}")
    return results
