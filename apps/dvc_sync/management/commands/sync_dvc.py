"""``manage.py sync_dvc [--source NAME] [--full]``: mirror DVC sources, with a progress bar."""

from __future__ import annotations

from apps.core.management.sync_command import SyncCommand
from apps.core.models import SyncRun


class Command(SyncCommand):
    """Sync DVC sources; see ``SyncCommand`` for what it prints and refuses. A commit whose DVC files do not load
    does not fail the sync: it is counted, and the count is printed as a warning after the success line."""

    help = (
        "Sync DVC sources (all of them without --source). Commits whose DVC files do not load are recorded as "
        "unparseable and counted; the command fails only when a sync itself failed."
    )
    kind = "dvc"
    kind_label = "DVC"
    unit = "commit"
    location_metavar = "PATH_OR_URL"
    full_help = "walk every commit again, not only the new ones"

    def after_success(self, source_name: str, run: SyncRun) -> None:
        unparseable = (run.counts or {}).get("unparseable_commits", 0)
        if unparseable:
            self.stdout.write(
                self.style.WARNING(
                    f"{source_name}: {unparseable} commit{'s' if unparseable != 1 else ''} recorded as "
                    "unparseable (their DVC files did not load; the commit pages name the file and the reason)."
                )
            )
