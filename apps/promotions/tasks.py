"""Celery tasks of the promotions: thin, take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.audit.context import Actor
from apps.promotions import services


@shared_task(soft_time_limit=240, time_limit=300, ignore_result=True, acks_late=True)
def execute_promotion(promotion_id: int) -> None:
    """Write one pending promotion to MLflow (nothing when it is not pending or not due: replays are harmless)."""
    services.promotion_execute(promotion_id, actor=Actor.system("worker"))


@shared_task(soft_time_limit=240, time_limit=300, ignore_result=True)
def sweep_promotions() -> None:
    """The periodic sweeper: release stale executions and queue the due pending promotions (without Redis, the
    embedded scheduler runs them in its own process)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        services.promotion_sweep(run=True, actor=Actor.system("scheduler"))
        return
    for pk in services.promotion_sweep(actor=Actor.system("sweeper")):
        execute_promotion.delay(pk)
