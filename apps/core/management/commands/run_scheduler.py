"""``manage.py run_scheduler``: the embedded scheduler that ``make run`` starts beside the server.

Without Redis there is no Celery worker or beat, so this small loop runs the same periodic jobs as
``CELERY_BEAT_SCHEDULE``, the syncs queued by the "Sync now" button, and the queues other apps register (the
promotions waiting to be written to MLflow).
"""

from __future__ import annotations

import logging
import signal
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from celery.schedules import schedule as celery_schedule
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.module_loading import import_string

from apps.core import registry, services

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the periodic jobs and the queued syncs in this process (the embedded default, without Redis)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the queue")
        parser.add_argument("--once", action="store_true", help="run what is due once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        polled = registry.polled_tasks()
        entries = {name: e for name, e in settings.CELERY_BEAT_SCHEDULE.items() if e["task"] not in polled}
        last_run: dict[str, float] = {name: time.monotonic() for name in entries}
        pollers = ", ".join(name for name, _ in registry.queue_pollers())
        self.stdout.write(
            f"Scheduler: {', '.join(entries)}; queued syncs{f' and {pollers}' if pollers else ''} polled every "
            f"{options['poll']} s."
        )
        while not stopping:
            try:
                services.sync_run_queued()
                for name, poll in registry.queue_pollers():
                    try:
                        poll()
                    except Exception:  # one queue's failure must not stop the others
                        logger.exception("queue %s failed", name)
                now = time.monotonic()
                for name, entry in entries.items():
                    every = entry["schedule"]
                    seconds = (
                        every.run_every.total_seconds() if isinstance(every, celery_schedule) else float(str(every))
                    )
                    if options["once"] or now - last_run[name] >= seconds:
                        last_run[name] = now
                        import_string(str(entry["task"])).apply()
            except Exception:  # the loop must survive a failing job; the job's own SyncRun records the failure
                logger.exception("scheduled job failed")
            if options["once"]:
                break
            time.sleep(options["poll"])
            close_old_connections()  # a long-lived loop must not keep a connection the database has dropped
