"""``manage.py sync_mlflow [--source NAME] [--full]``: mirror MLflow sources, with a progress bar."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core import registry, services
from apps.core.errors import AppError
from apps.core.models import SyncRun


class Command(BaseCommand):
    help = "Sync MLflow sources (all of them without --source). Exits non-zero if a sync failed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--source", help="name of the MLflow source (default: every MLflow source)")
        parser.add_argument("--full", action="store_true", help="re-read every run instead of what changed")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = registry.source_kind("mlflow")
        services.sources_ensure_defaults(kinds=["mlflow"])
        try:
            sources = [kind.get_source(options["source"])] if options["source"] else kind.list_sources()
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        if not sources:
            self.stdout.write("No MLflow sources are configured. Add one with `manage.py add_source mlflow NAME URI`.")
            return
        failed = 0
        for source in sources:
            bar = None if options["no_progress"] else tqdm(desc=source.name, unit="run", leave=False, file=self.stderr)

            def on_progress(
                *, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None, bar: Any = bar
            ) -> None:
                if bar is None:
                    return
                bar.total = total or None
                bar.n = done
                bar.set_postfix_str(phase)
                bar.refresh()

            try:
                run = services.sync_source(
                    kind="mlflow",
                    source_id=source.id,
                    full=options["full"],
                    trigger=SyncRun.Trigger.COMMAND,
                    on_progress=on_progress,
                )
            except AppError as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{source.name}: {exc}"))
                continue
            finally:
                if bar is not None:
                    bar.close()
            if run.status == SyncRun.Status.SUCCEEDED:
                self.stdout.write(self.style.SUCCESS(f"{source.name}: {run.message}"))
            else:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{source.name}: sync failed: {run.error}"))
        if failed:
            raise CommandError(f"{failed} of {len(sources)} MLflow syncs failed.")
