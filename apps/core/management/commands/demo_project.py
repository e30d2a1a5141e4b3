"""``manage.py demo_project PATH [--force]``: build the churn-prediction demo with real git, DVC and MLflow."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.demo import DemoSummary, build_demo_project, read_completed_demo, remove_demo
from apps.core.errors import AppError


class Command(BaseCommand):
    help = (
        "Build the demo project at PATH: a git + DVC repository (PATH/repo) with a local DVC remote "
        "and an MLflow store (PATH/mlflow_data). A finished demo is left alone unless --force; "
        "a half-built one is rebuilt."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="directory for the demo, e.g. var/demo (created if missing)")
        parser.add_argument("--force", action="store_true", help="delete a finished demo at PATH and rebuild it")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            finished = read_completed_demo(path)
            if finished is not None and not options["force"]:
                self.stdout.write(
                    f"A finished demo is already at {finished.root}; left as it is (--force rebuilds it)."
                )
                self._report(finished)
                return
            if options["force"]:
                remove_demo(path)
            summary = build_demo_project(path, log=self.stdout.write)
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Demo built in {summary.build_seconds:.0f} s at {summary.root}."))
        self._report(summary)

    def _report(self, summary: DemoSummary) -> None:
        versions = ", ".join(
            f"v{number} {label}" for label, number in sorted(summary.model_versions.items(), key=lambda item: item[1])
        )
        aliases = ", ".join(f"{alias} -> v{number}" for alias, number in sorted(summary.aliases.items()))
        self.stdout.write(f"  git + DVC repository: {summary.repo} (DVC remote {summary.dvc_remote})")
        self.stdout.write(f"  MLflow tracking URI:  {summary.tracking_uri}")
        self.stdout.write(f"  experiment {summary.experiment}, model {summary.registered_model}: {versions}")
        self.stdout.write(f"  aliases: {aliases}")
        self.stdout.write("  Add it to the dashboard:")
        self.stdout.write(f"    python manage.py add_source mlflow demo-mlflow {summary.tracking_uri}")
        self.stdout.write(f"    python manage.py add_source dvc demo-dvc {summary.repo}")
