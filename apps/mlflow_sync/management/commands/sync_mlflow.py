"""``manage.py sync_mlflow [--source NAME] [--full]``: mirror MLflow sources, with a progress bar."""

from __future__ import annotations

from apps.core.management.sync_command import SyncCommand


class Command(SyncCommand):
    """Sync MLflow sources; see ``SyncCommand`` for what it prints and refuses."""

    help = "Sync MLflow sources (all of them without --source). Exits non-zero if a sync failed."
    kind = "mlflow"
    kind_label = "MLflow"
    unit = "run"
    location_metavar = "URI"
    full_help = "re-read every run instead of what changed"
