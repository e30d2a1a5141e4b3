"""Celery tasks of the audit log: thin, call one service."""

from __future__ import annotations

from celery import shared_task

from apps.audit import services


@shared_task(soft_time_limit=60, time_limit=90, ignore_result=True)
def anchor_audit_head() -> None:
    """The periodic anchor: write the chain head to the log and the anchor file, outside the database."""
    services.audit_anchor()
