"""``manage.py verify_audit_log [--anchor SEQ:HASH ...]``: re-compute the audit log's hash chain from the first event.

Exits 0 when every event's hash matches its stored content, sequence numbers run without a gap, each event links to
the one before it and every anchor matches; otherwise prints the first bad sequence number and what is wrong with
it, and exits 1. Also exits 1 when the append-only triggers are missing from the database.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.audit import selectors
from apps.audit.chain import Anchor


class Command(BaseCommand):
    help = "Verify the audit log's hash chain (and anchors written down outside the database)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEQ:HASH",
            help="a chain head written down earlier (anchor log line, export manifest); may be given several times",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchors = [Anchor.parse(text) for text in options["anchor"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        started = time.monotonic()
        report = selectors.chain_verify(
            anchors=anchors, progress=lambda n: self.stderr.write(f"… {n:,} events checked")
        )
        elapsed = time.monotonic() - started
        missing = selectors.triggers_missing()
        if not report.ok:
            self.stderr.write(
                self.style.ERROR(
                    f"Audit log BROKEN at sequence number {report.bad_seq}: {report.problem}. "
                    f"{report.checked:,} events before it verified."
                )
            )
        if missing:
            self.stderr.write(
                self.style.ERROR(
                    f"The append-only triggers {', '.join(missing)} are missing: audit rows can be changed without "
                    "an error. Run `manage.py migrate audit` to re-create them, then verify again."
                )
            )
        if not report.ok or missing:
            raise SystemExit(1)
        anchored = f"; anchors {', '.join(str(a) for a in report.anchors_checked)} match" if anchors else ""
        head = f"head {report.head_seq}:{report.head_hash}" if report.checked else "the log is empty"
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit log OK: {report.checked:,} events verified in {elapsed:.1f} s, {head}{anchored}."
            )
        )
