"""``manage.py bench_promotions [--rounds N] [--runs N]``: promotion latency from request to confirmed against a
local ``mlflow server`` over a copy of the MLflow benchmark store, beside the bare MLflow writes (``make bench``).
It adds and deletes the MLflow source 'bench-promotions': run it with DATABASE_URL naming a database of its own."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.bench import BenchError
from apps.promotions.bench import run_benchmark


class Command(BaseCommand):
    help = "Benchmark promotions: request → confirmed against a local mlflow server."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rounds", type=int, default=30, help="timed promotions (30)")
        parser.add_argument("--runs", type=int, default=20_000, help="runs in the MLflow benchmark store (20000)")
        parser.add_argument("--folder", type=Path, default=None, help="the benchmark folder (var/bench)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rounds"] < 2:
            raise CommandError("--rounds must be at least 2.")
        try:
            run_benchmark(runs=options["runs"], rounds=options["rounds"],
                          folder=options["folder"] or settings.VAR_DIR / "bench", write=self.stdout.write)  # fmt: skip
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
