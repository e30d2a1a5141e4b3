"""The promotions' benchmark: latency from request to confirmed against a local ``mlflow server`` (over a copy of
the MLflow benchmark store), next to the bare MLflow calls a promotion makes (moving the alias and the stage)."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.audit.context import Actor
from apps.core import services as core_services
from apps.core.bench import BenchError, Figure, format_figures
from apps.mlflow_sync.bench import mlflow_server_over_copy
from apps.mlflow_sync.benchstore import ensure_bench_store
from apps.mlflow_sync.models import MlflowSource, ModelVersion, RegisteredModel
from apps.mlflow_sync.services import mlflow_source_add, registry_session
from apps.promotions.models import Promotion
from apps.promotions.services import promotion_execute, promotion_request

SOURCE = "bench-promotions"


def _drop_source() -> None:
    """Remove the bench source (its promotions first: they protect the mirror rows they name, as history should)."""
    Promotion.objects.filter(model__source__name=SOURCE).delete()
    MlflowSource.objects.filter(name=SOURCE).delete()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_benchmark(*, runs: int, rounds: int, folder: Path, write: Callable[[str], Any] = print) -> dict[str, Any]:
    """Promote ``rounds`` times (alternating two versions into production) and time each from the request to the
    confirmation; time the same alias and stage moves made with MLflow's client alone. Raises ``BenchError`` when a
    promotion does not end confirmed."""
    folder = folder.resolve()
    store = ensure_bench_store(folder, runs=runs, log=write)
    bench = folder / "promotions"
    bench.mkdir(parents=True, exist_ok=True)
    _drop_source()
    with mlflow_server_over_copy(store, bench) as url:
        source = mlflow_source_add(name=SOURCE, tracking_uri=url)[0]
        try:
            sync = core_services.sync_source(kind="mlflow", source_id=source.pk)
            if sync.status != "succeeded":
                raise BenchError(f"The bench sync failed: {sync.error}")
            model = RegisteredModel.objects.filter(source=source).order_by("name").first()
            if model is None:
                raise BenchError("The benchmark store has no registered model.")
            numbers = sorted(ModelVersion.objects.filter(model=model, deleted=False).values_list("version", flat=True))
            pair = numbers[-2:]
            latencies, requests, executions = [], [], []
            actor = Actor(name="cli:bench")  # the command line's trust: no permission lookup per round
            for n in range(rounds):
                holder = (RegisteredModel.objects.get(pk=model.pk).aliases or {}).get("production")
                version = pair[0] if holder != pair[0] else pair[1]
                mv = ModelVersion.objects.select_related("model", "source").get(model=model, version=version)
                started = time.perf_counter()
                promotion = promotion_request(version=mv, target="production", reason=f"bench round {n}", actor=actor)
                requested = time.perf_counter()
                done = promotion_execute(promotion.pk, actor=actor)
                finished = time.perf_counter()
                if done is None or done.status != Promotion.Status.CONFIRMED:
                    raise BenchError(f"Round {n} ended {done and done.status}: {done and done.outcome}")
                latencies.append(finished - started)
                requests.append(requested - started)
                executions.append(finished - requested)
            bare = []
            with registry_session(source) as session:
                for n in range(rounds):
                    version = pair[n % 2]
                    started = time.perf_counter()
                    session.set_alias(model.name, "production", version)
                    session.set_stage(model.name, version, "Production", archive_existing=True)
                    bare.append(time.perf_counter() - started)
        finally:
            _drop_source()
    p50, p95 = statistics.median(latencies), _p(latencies, 0.95)
    bare50 = statistics.median(bare)
    figures = [
        Figure("promotion_latency_p50", "promotion, request → confirmed, p50", seconds=p50, value=p50, unit="s",
               note=f"request {statistics.median(requests) * 1000:.0f} ms + execution "
                    f"{statistics.median(executions) * 1000:.0f} ms (re-read, alias, stage, re-read, confirm)"),
        Figure("promotion_latency_p95", "promotion, request → confirmed, p95", seconds=p95, value=p95, unit="s"),
        Figure("mlflow_bare_p50", "MLflow's client alone: alias + stage, p50", seconds=bare50, value=bare50, unit="s"),
        Figure("promotion_vs_bare", "promotion / bare MLflow writes, p50", value=p50 / bare50, unit="x",
               note="the promotion also reads MLflow twice and writes its rows and audit events"),
    ]  # fmt: skip
    load = os.getloadavg()
    results = {
        "rounds": rounds,
        "store": str(store),
        "model": model.name,
        "vendor": connection.vendor,
        "measured_at": timezone.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": round(load[0], 2),
        "latencies_s": [round(x, 4) for x in latencies],
        "figures": [{**asdict(f), "passed": f.passed} for f in figures],
        "database": str(settings.DATABASES["default"]["NAME"]),
    }
    (folder / "promotions-results.json").write_text(json.dumps(results, indent=2) + "\n")
    title = [f"Promotion benchmark: {rounds} promotions of {model.name} against `mlflow server` (load {load[0]:.2f})"]
    for line in format_figures(figures, title=title):
        write(line)
    return results
