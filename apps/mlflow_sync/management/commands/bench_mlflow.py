"""``manage.py bench_mlflow [--runs N] [--folder PATH] [--skip-rest]``: measure the MLflow sync against MLflow's own
client on a large generated store, and print the figures with their targets (``make bench``)."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.mlflow_sync.bench import BenchError, run_benchmark


class Command(BaseCommand):
    help = (
        "Benchmark the MLflow sync (SQL and REST paths) on a generated store of --runs runs. It deletes and re-adds "
        "the MLflow sources 'bench-sql' and 'bench-rest': run it with DATABASE_URL naming a database of its own. "
        "Exits non-zero only when something could not be measured; missed targets are reported as MISS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--runs", type=int, default=20_000, help="runs in the generated store (default 20000)")
        parser.add_argument(
            "--folder", type=Path, default=None, help="where the store and results.json live (default var/bench)"
        )
        parser.add_argument("--skip-rest", action="store_true", help="skip the REST path (no `mlflow server`)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["runs"] < 1:
            raise CommandError("--runs must be at least 1.")
        folder: Path = options["folder"] or settings.VAR_DIR / "bench"
        if not os.environ.get("DATABASE_URL"):
            self.stderr.write(
                self.style.WARNING(
                    "DATABASE_URL is not set: the benchmark writes its sources into the dashboard's own database "
                    "(it removes them at the end). Prefer DATABASE_URL=sqlite:///<abs>/var/bench/site.sqlite3."
                )
            )
        try:
            run_benchmark(runs=options["runs"], folder=folder, skip_rest=options["skip_rest"], write=self._write)
        except BenchError as exc:
            raise CommandError(str(exc)) from exc

    def _write(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
