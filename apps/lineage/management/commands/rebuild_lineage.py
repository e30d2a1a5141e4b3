"""``manage.py rebuild_lineage``: recompute the join for every run (after changing LINEAGE_DATA_COMMIT_KEYS, or to
check that the incremental recomputation after each sync left nothing behind)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from apps.lineage.selectors import verdict_counts
from apps.lineage.services import lineage_rebuild


class Command(BaseCommand):
    help = "Recompute the lineage join (run ↔ data version links, evidence, verdicts) for every run."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"  {done}/{total} runs")

        count = lineage_rebuild(progress=progress)
        verdicts = ", ".join(f"{n} {v}" for v, n in verdict_counts().items()) or "none"
        self.stdout.write(
            self.style.SUCCESS(f"Joined {count} runs in {time.monotonic() - started:.1f} s; verdicts: {verdicts}.")
        )
