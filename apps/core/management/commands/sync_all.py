"""``manage.py sync_all [--full]``: sync every enabled source of every kind."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core import services
from apps.core.models import SyncRun


class Command(BaseCommand):
    help = "Sync every enabled source (MLflow and DVC). Exits non-zero if any sync failed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--full", action="store_true", help="re-read everything instead of what changed")

    def handle(self, *args: Any, **options: Any) -> None:
        runs = services.sync_all(full=options["full"], trigger=SyncRun.Trigger.COMMAND)
        if not runs:
            self.stdout.write("No sources are configured.")
        failed = 0
        for run in runs:
            if run.status == SyncRun.Status.SUCCEEDED:
                self.stdout.write(self.style.SUCCESS(f"{run.kind} {run.source_name}: {run.message}"))
            else:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{run.kind} {run.source_name}: {run.error}"))
        if failed:
            raise CommandError(f"{failed} of {len(runs)} syncs failed.")
