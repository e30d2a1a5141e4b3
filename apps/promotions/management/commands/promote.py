"""``manage.py promote MODEL VERSION TARGET --reason … [--user USERNAME]``: promote a model version from the shell.

The same service as the model version page and the admin action. Without ``--user`` the actor is recorded as
``cli:<os user>`` (shell access to the server is admin access); with it, that user's permission is checked. The
command runs the execution itself (it is no web request) and waits for the outcome and exits 0 confirmed, 2 conflict, 3 refused by a gate or permission, 4 still
pending (MLflow unreachable, it will be retried; or waiting for a second approver), 1 failed, printing which.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.audit.context import Actor
from apps.lineage.selectors import model_version_get
from apps.mlflow_sync.models import ModelVersion
from apps.promotions import services
from apps.promotions.errors import PromotionDenied, PromotionError
from apps.promotions.models import Promotion

EXIT = {
    Promotion.Status.CONFIRMED: 0,
    Promotion.Status.FAILED: 1,
    Promotion.Status.CONFLICT: 2,
    Promotion.Status.REFUSED: 3,
    Promotion.Status.REJECTED: 3,
    Promotion.Status.CANCELLED: 1,
    Promotion.Status.PENDING: 4,
    Promotion.Status.EXECUTING: 4,
    Promotion.Status.AWAITING_APPROVAL: 4,
}


class Command(BaseCommand):
    help = "Promote a model version to a target (production, staging or a configured alias) and wait for MLflow."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("model", help="registered model name")
        parser.add_argument("version", type=int, help="version number")
        parser.add_argument("target", help="production, staging, or an alias with a promotion policy")
        parser.add_argument("--reason", required=True, help="why (required; kept in the audit log)")
        parser.add_argument("--user", help="act as this dashboard user (their permission is checked)")
        parser.add_argument("--source", default="", help="the MLflow source, when several have a model of this name")
        parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for MLflow (default 60)")
        parser.add_argument("--idempotency-key", default="", help="replaying the same key changes nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._actor(options.get("user"))
        try:
            version = model_version_get(name=options["model"], version=options["version"], source=options["source"])
        except ModelVersion.DoesNotExist:
            raise CommandError(
                f"No version {options['version']} of model {options['model']!r} in the mirror."
            ) from None
        try:
            promotion = services.promotion_request(
                version=version,
                target=options["target"],
                reason=options["reason"],
                actor=actor,
                idempotency_key=options["idempotency_key"],
            )
        except PromotionDenied as exc:
            self.stderr.write(self.style.ERROR(f"Refused: {exc}"))
            raise SystemExit(3) from exc
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Promotion #{promotion.pk}: {version} → {promotion.target_label} ({promotion.status}).")
        promotion = self._wait(promotion, options["wait"], actor)
        self._report(promotion)
        raise SystemExit(EXIT[Promotion.Status(promotion.status)])

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return Actor.cli()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No dashboard user {username!r}.")
        return Actor.of(user)

    def _wait(self, promotion: Promotion, seconds: float, actor: Actor) -> Promotion:
        """Until the promotion leaves pending/executing or ``seconds`` pass, running the execution here whenever it
        is due (a worker may take it first: the slot lets only one of them write)."""
        deadline = time.monotonic() + seconds
        cli = Actor(name=actor.name if actor.is_cli else f"cli:{actor.name}")
        while promotion.status in (Promotion.Status.PENDING, Promotion.Status.EXECUTING):
            promotion = services.promotion_execute(promotion.pk, actor=cli) or promotion
            if promotion.status not in (Promotion.Status.PENDING, Promotion.Status.EXECUTING):
                break
            promotion.refresh_from_db()
            due = promotion.next_attempt_at
            pause = (due - timezone.now()).total_seconds() if due else 0.5
            if promotion.last_error and promotion.status == Promotion.Status.PENDING:
                self.stderr.write(f"… MLflow not reached (attempt {promotion.attempts}): {promotion.last_error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(max(0.2, min(pause, remaining, 5.0)))
            promotion.refresh_from_db()
        return promotion

    def _report(self, promotion: Promotion) -> None:
        status = Promotion.Status(promotion.status)
        for gate in promotion.gate_results or []:
            self.stdout.write(f"  gate {gate['label']}: {gate['status']} ({gate['detail']})")
        if status == Promotion.Status.CONFIRMED:
            self.stdout.write(self.style.SUCCESS(f"Confirmed: {promotion.outcome}"))
        elif status == Promotion.Status.AWAITING_APPROVAL:
            self.stdout.write(
                f"Waiting for a second approver (not {promotion.requested_by_name}): approve it on the promotion's page."
            )
        elif status in (Promotion.Status.PENDING, Promotion.Status.EXECUTING):
            self.stdout.write(
                self.style.WARNING(
                    f"Still pending: MLflow has not confirmed it ({promotion.last_error or 'not written yet'}). "
                    "The worker keeps retrying; nothing is shown as promoted until MLflow confirms it."
                )
            )
        else:
            self.stderr.write(self.style.ERROR(f"{status.label}: {promotion.outcome or promotion.last_error}"))
