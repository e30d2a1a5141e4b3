"""``manage.py bench_audit [--events N]``: time ``verify_audit_log`` over N events (default 1,000,000; target
≤ 30 s), appending bench events in bulk first when the log holds fewer. Run it with DATABASE_URL naming a database
of its own (``make bench`` does): the events it appends stay, as an audit log's do."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit.bench import run_benchmark


class Command(BaseCommand):
    help = "Benchmark the audit log's verification over a million events."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--events", type=int, default=1_000_000, help="events in the log (1000000)")
        parser.add_argument("--folder", type=Path, default=None, help="where audit-results.json goes (var/bench)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["events"] < 1:
            raise CommandError("--events must be at least 1.")
        if not os.environ.get("DATABASE_URL"):
            raise CommandError(
                "Set DATABASE_URL to a database of the benchmark's own: the events it appends cannot be deleted."
            )
        run_benchmark(events=options["events"], folder=options["folder"] or settings.VAR_DIR / "bench",
                      write=self.stdout.write)  # fmt: skip
