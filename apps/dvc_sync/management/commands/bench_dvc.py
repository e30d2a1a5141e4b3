"""``manage.py bench_dvc [--commits N] [--folder PATH]``: measure the DVC sync against the real ``dvc dag`` on a
large generated repository, and print the figures with their targets (``make bench``)."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.dvc_sync.bench import BenchError, run_benchmark
from apps.dvc_sync.benchrepo import BenchRepoError


class Command(BaseCommand):
    help = (
        "Benchmark the DVC sync on a generated repository of --commits commits (15 percent of them changing DVC files) "
        "against `git checkout` + `dvc dag --outs --dot` per changed commit. It deletes and re-adds the DVC source "
        "'bench-dvc': run it with DATABASE_URL naming a database of its own. Exits non-zero only when something "
        "could not be measured; missed targets are reported as MISS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--commits", type=int, default=2_000, help="commits in the generated repository (2000)")
        parser.add_argument(
            "--dvc-commits",
            type=int,
            default=None,
            help="of those, how many change DVC files (default 15 percent: 300)",
        )
        parser.add_argument(
            "--folder", type=Path, default=None, help="where the repository and dvc-results.json live (var/bench)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        commits: int = options["commits"]
        dvc_commits: int | None = options["dvc_commits"]
        if commits < 2:
            raise CommandError("--commits must be at least 2.")
        if dvc_commits is not None and not 1 <= dvc_commits <= commits:
            raise CommandError("--dvc-commits must be between 1 and --commits.")
        folder: Path = options["folder"] or settings.VAR_DIR / "bench"
        if not os.environ.get("DATABASE_URL"):
            self.stderr.write(
                self.style.WARNING(
                    "DATABASE_URL is not set: the benchmark writes its source into the dashboard's own database "
                    "(it removes it at the end). Prefer DATABASE_URL=sqlite:///<abs>/var/bench/site.sqlite3."
                )
            )
        try:
            run_benchmark(folder=folder, write=self._write, commits=commits, dvc_commits=dvc_commits)
        except (BenchError, BenchRepoError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _write(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
