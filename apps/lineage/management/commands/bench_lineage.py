"""``manage.py bench_lineage [--runs N] [--versions N] [--skip-rest] [--skip-browser] …``: measure the lineage join,
the model version page, the impact query and the lineage graph in a browser on joined bench data, against MLflow's
REST API where the issue compares, and print the figures with their targets (``make bench``)."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.dvc_sync.benchrepo import BenchRepoError
from apps.lineage.bench import BenchError, run_benchmark
from apps.lineage.bench.data import HISTORY, WIDE, RepoSize


class Command(BaseCommand):
    help = (
        "Benchmark the lineage dashboard on an MLflow store of --runs runs joined to generated DVC repositories: the "
        "join (post-sync hook), the model version page and the impact query (against MLflow's REST API on the same "
        "store), and a ~500-node lineage graph drawn in Chromium. It deletes and re-adds the sources 'bench-lineage', "
        "'bench-lineage-dvc' and 'bench-lineage-wide': run it with DATABASE_URL naming a database of its own. Exits "
        "non-zero only when something could not be measured; missed targets are reported as MISS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--runs", type=int, default=20_000, help="runs in the joined MLflow store (20000)")
        parser.add_argument("--versions", type=int, default=200, help="registered model versions, about (200)")
        parser.add_argument("--commits", type=int, default=HISTORY.commits, help="commits of the DVC history (2000)")
        parser.add_argument(
            "--dvc-commits", type=int, default=HISTORY.dvc_commits, help="of those, changing DVC files (300)"
        )
        parser.add_argument("--stages", type=int, default=HISTORY.stages, help="the history's pipeline stages (40)")
        parser.add_argument("--tracked", type=int, default=HISTORY.tracked, help="the history's .dvc files (100)")
        parser.add_argument(
            "--graph-stages", type=int, default=WIDE.stages, help="stages of the wide pipeline drawn (110)"
        )
        parser.add_argument(
            "--graph-tracked", type=int, default=WIDE.tracked, help=".dvc files of the wide pipeline (260)"
        )
        parser.add_argument("--impact-sample", type=int, default=200, help="data versions the impact query is timed on")
        parser.add_argument(
            "--rest-impact-sample", type=int, default=15, help="digests MLflow's (slow) search is timed on (15)"
        )
        parser.add_argument("--draws", type=int, default=7, help="timed browser draws of the graph (7)")
        parser.add_argument(
            "--folder", type=Path, default=None, help="where the bench data and lineage-results.json live (var/bench)"
        )
        parser.add_argument("--skip-rest", action="store_true", help="skip MLflow's REST API (no `mlflow server`)")
        parser.add_argument("--skip-browser", action="store_true", help="skip the browser draw (no Chromium)")
        parser.add_argument("--keep", action="store_true", help="keep the bench sources afterwards, to look around")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("runs", "versions", "impact_sample", "rest_impact_sample", "draws"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        if not 1 <= options["dvc_commits"] <= options["commits"]:
            raise CommandError("--dvc-commits must be between 1 and --commits.")
        folder: Path = options["folder"] or settings.VAR_DIR / "bench"
        if not os.environ.get("DATABASE_URL"):
            self.stderr.write(
                self.style.WARNING(
                    "DATABASE_URL is not set: the benchmark writes its sources into the dashboard's own database "
                    "(it removes them at the end). Prefer DATABASE_URL=sqlite:///<abs>/var/bench/site.sqlite3."
                )
            )
        history = RepoSize(options["commits"], options["dvc_commits"], options["stages"], options["tracked"])
        wide = RepoSize(WIDE.commits, WIDE.dvc_commits, options["graph_stages"], options["graph_tracked"])
        try:
            run_benchmark(
                folder=folder,
                runs=options["runs"],
                versions=options["versions"],
                history=history,
                wide=wide,
                impact_sample=options["impact_sample"],
                rest_impact_sample=options["rest_impact_sample"],
                draws=options["draws"],
                skip_rest=options["skip_rest"],
                skip_browser=options["skip_browser"],
                keep=options["keep"],
                write=self._write,
            )
        except (BenchError, BenchRepoError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _write(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
