"""The append-only, hash-chained event log: one ``AuditEvent`` per state change of the product.

Rows are only ever inserted, by ``apps.audit.services.audit_record``; database triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL), see ``apps.audit.triggers``. Each row's ``hash`` is
``sha256(prev_hash + canonical JSON of the row)`` (``apps.audit.canonical``), so a row changed or removed behind the
triggers' back breaks the chain from there on, which ``manage.py verify_audit_log`` names.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One state change: who (``actor`` and the copied ``actor_name``), what (``action``), on what (``target_*``),
    the state before and after, why (``reason``), in which request, and the chain link."""

    seq = models.BigIntegerField("sequence number", primary_key=True)
    at = models.DateTimeField(db_index=True)
    # PROTECT: users are deactivated, never deleted, while the log names them. System and command-line actors have
    # no user ("scheduler", "cli:<os user>").
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=200, blank=True)
    target_text = models.CharField(max_length=500, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["target_type", "target_id", "seq"], name="audit_event_target"),
            models.Index(fields=["actor_name", "seq"], name="audit_event_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id} by {self.actor_name}"
