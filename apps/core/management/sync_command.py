"""The loop behind ``manage.py sync_mlflow`` and ``manage.py sync_dvc``: sync one source or every source of one
kind, with a progress bar, one line a source, and a non-zero exit when a sync failed."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core import registry, services
from apps.core.errors import AppError
from apps.core.models import SyncRun


class SyncCommand(BaseCommand):
    """Sync the sources of ``kind`` (all of them without ``--source``). Prints a line a source (its sync's message,
    or why it failed) and raises ``CommandError`` when the source named is unknown or when any sync failed. A
    subclass sets the class attributes and may print more for a sync that succeeded in ``after_success``."""

    kind: str  # the source kind's registry name, e.g. "mlflow"
    kind_label: str  # how messages name the kind, e.g. "MLflow"
    unit: str  # what the progress bar counts, e.g. "run"
    location_metavar: str  # what ``add_source`` takes after the name, for the "no sources" hint, e.g. "URI"
    full_help: str  # what ``--full`` does for this kind

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--source", help=f"name of the {self.kind_label} source (default: every {self.kind_label} source)"
        )
        parser.add_argument("--full", action="store_true", help=self.full_help)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        source_kind = registry.source_kind(self.kind)
        # A kind may add the sources its environment names (MLflow: MLFLOW_DEFAULT_SOURCE_URI) before they are listed.
        services.sources_ensure_defaults(kinds=[self.kind])
        try:
            sources = [source_kind.get_source(options["source"])] if options["source"] else source_kind.list_sources()
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        if not sources:
            self.stdout.write(
                f"No {self.kind_label} sources are configured. "
                f"Add one with `manage.py add_source {self.kind} NAME {self.location_metavar}`."
            )
            return
        failed = 0
        for source in sources:
            if not self._sync_one(source, full=options["full"], progress=not options["no_progress"]):
                failed += 1
        if failed:
            raise CommandError(f"{failed} of {len(sources)} {self.kind_label} syncs failed.")

    def _sync_one(self, source: registry.SourceRef, *, full: bool, progress: bool) -> bool:
        """Sync ``source`` and print its line; return whether the sync succeeded."""
        bar = tqdm(desc=source.name, unit=self.unit, leave=False, file=self.stderr) if progress else None

        def on_progress(*, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None) -> None:
            if bar is None:
                return
            bar.total = total or None
            bar.n = done
            bar.set_postfix_str(phase)
            bar.refresh()

        try:
            run = services.sync_source(
                kind=self.kind,
                source_id=source.id,
                full=full,
                trigger=SyncRun.Trigger.COMMAND,
                on_progress=on_progress,
            )
        except AppError as exc:
            self.stderr.write(self.style.ERROR(f"{source.name}: {exc}"))
            return False
        finally:
            if bar is not None:
                bar.close()
        if run.status != SyncRun.Status.SUCCEEDED:
            self.stderr.write(self.style.ERROR(f"{source.name}: sync failed: {run.error}"))
            return False
        self.stdout.write(self.style.SUCCESS(f"{source.name}: {run.message}"))
        self.after_success(source.name, run)
        return True

    def after_success(self, source_name: str, run: SyncRun) -> None:
        """Called after the success line of each sync that succeeded, to print what else the kind reports."""
