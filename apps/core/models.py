"""Facts every app shares: one ``SyncRun`` row per sync of any source, and the fields every source has."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.validators import SOURCE_NAME_VALIDATOR


class SourceBase(models.Model):
    """What every kind of source has: a unique name, an on/off switch, timestamps and the sync's own state."""

    name = models.CharField(max_length=200, unique=True, validators=[SOURCE_NAME_VALIDATOR])
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Watermarks and counters of the incremental sync; written only when a sync succeeds.
    sync_state = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SyncRun(models.Model):
    """One sync of one source, whatever started it. At most one per source is queued or running."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        COMMAND = "command", "Command line"
        SCHEDULE = "schedule", "Schedule"
        BUTTON = "button", "Sync now"
        API = "api", "API"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=32)
    source_id = models.BigIntegerField()
    source_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.COMMAND)
    full = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=100, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_id"],
                condition=Q(status__in=["queued", "running"]),
                name="core_syncrun_one_active_per_source",
            )
        ]
        indexes = [models.Index(fields=["kind", "source_id", "-created_at"], name="core_syncrun_source_idx")]

    def __str__(self) -> str:
        return f"{self.kind} sync of {self.source_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))
