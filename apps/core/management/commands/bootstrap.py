"""``manage.py bootstrap``: what ``make run`` does before it serves. When no source is configured (and
``MLFLOW_TRACKING_URI`` names none) it builds the demo project under ``var/demo``, adds it as a source of every
registered kind that can read it, and syncs; then it makes sure a login exists."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.core import registry, services
from apps.core.errors import AppError
from apps.core.models import SyncRun


class Command(BaseCommand):
    help = "Prepare the dashboard to serve: the demo project when nothing is configured, a first sync, a login."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--demo-path", default=str(settings.VAR_DIR / "demo"))
        parser.add_argument("--no-demo", action="store_true", help="never build the demo project")

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.core.demo.builder import build_demo_project, read_completed_demo

        services.sources_ensure_defaults()
        kinds = registry.source_kinds()
        has_sources = any(kind.list_sources() for kind in kinds.values())
        if not has_sources and not options["no_demo"]:
            path = Path(options["demo_path"])
            summary = read_completed_demo(path)
            if summary is None:
                self.stdout.write(f"No source is configured: building the demo project in {path} (a few minutes)…")
                try:
                    summary = build_demo_project(path, log=lambda line: self.stdout.write(f"  {line}"))
                except AppError as exc:
                    raise CommandError(f"The demo project could not be built: {exc}") from exc
            locations = {"mlflow": summary.tracking_uri, "dvc": str(summary.repo)}
            for name, location in locations.items():
                if name in kinds:
                    source, _ = kinds[name].add_source("demo", location)
                    self.stdout.write(f"Added the demo as {name} source '{source.name}'.")
            for run in services.sync_all(trigger=SyncRun.Trigger.COMMAND):
                outcome = run.message if run.status == SyncRun.Status.SUCCEEDED else f"FAILED: {run.error}"
                self.stdout.write(f"Synced {run.kind} source '{run.source_name}': {outcome}")
        call_command("ensure_login", quiet_if_exists=True, stdout=self.stdout)
        admin_note = settings.VAR_DIR / "admin-login.txt"
        if admin_note.exists():
            user = admin_note.read_text().splitlines()[0].removeprefix("user: ")
            self.stdout.write(f"Log in as '{user}'; the password is in {admin_note}.")
