"""What ``lineage`` asks ``core`` to run after every finished sync, whatever started it."""

from __future__ import annotations

import logging
import time

from apps.core.models import SyncRun

logger = logging.getLogger(__name__)


def recompute_after_sync(syncrun: SyncRun) -> None:
    """Recompute the join for what the sync changed (a failed sync may have written some batches, so it counts)."""
    from apps.lineage.services import lineage_after_sync

    started = time.monotonic()
    count = lineage_after_sync(syncrun)
    logger.info(
        "lineage: recomputed %d runs after %s sync of %s in %.2f s",
        count,
        syncrun.kind,
        syncrun.source_name,
        time.monotonic() - started,
    )
