"""``manage.py sync_dvc [--source NAME] [--full]``: mirror DVC sources, with a progress bar."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core import registry, services
from apps.core.errors import AppError
from apps.core.models import SyncRun


class Command(BaseCommand):
    help = (
        "Sync DVC sources (all of them without --source). Commits whose DVC files do not load are recorded as "
        "unparseable and counted; the command fails only when a sync itself failed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--source", help="name of the DVC source (default: every DVC source)")
        parser.add_argument("--full", action="store_true", help="walk every commit again, not only the new ones")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = registry.source_kind("dvc")
        try:
            sources = [kind.get_source(options["source"])] if options["source"] else kind.list_sources()
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        if not sources:
            self.stdout.write(
                "No DVC sources are configured. Add one with `manage.py add_source dvc NAME PATH_OR_URL`."
            )
            return
        failed = 0
        for source in sources:
            bar = (
                None if options["no_progress"] else tqdm(desc=source.name, unit="commit", leave=False, file=self.stderr)
            )

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
                    kind="dvc",
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
            if run.status != SyncRun.Status.SUCCEEDED:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{source.name}: sync failed: {run.error}"))
                continue
            self.stdout.write(self.style.SUCCESS(f"{source.name}: {run.message}"))
            unparseable = (run.counts or {}).get("unparseable_commits", 0)
            if unparseable:
                self.stdout.write(
                    self.style.WARNING(
                        f"{source.name}: {unparseable} commit{'s' if unparseable != 1 else ''} recorded as "
                        "unparseable (their DVC files did not load; the commit pages name the file and the reason)."
                    )
                )
        if failed:
            raise CommandError(f"{failed} of {len(sources)} DVC syncs failed.")
