"""Writes of the promotions. Requesting, approving, rejecting and cancelling are one transaction each with their
audit event; side effects (the e-mail, queueing the execution) run after commit.

Execution (``promotion_execute``) is the outbox's consumer, run by the Celery worker, the embedded scheduler or the
``promote`` command, never inside a web request. It takes the (model, target) slot (a unique constraint on the
``executing`` status: one promotion per model and target talks to MLflow at a time, on SQLite as on PostgreSQL),
commits, and only then talks to MLflow, holding no database transaction: it re-reads the registry and refuses on
conflict (the target no longer held by what the mirror showed when the promotion was requested: MLflow has no
compare-and-set), writes the alias and the legacy stage, re-reads to confirm, and records ``confirmed`` (with the
mirror brought up to date in the same transaction), ``conflict`` or ``failed``. MLflow unreachable: the promotion
goes back to ``pending`` with a later ``next_attempt_at`` (exponential backoff); the sweeper re-queues due and
stale ones.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.services import audit_record, audit_saved, audit_snapshot
from apps.mlflow_sync.client import RegistryRefused, RegistryUnavailable
from apps.mlflow_sync.models import ModelVersion
from apps.mlflow_sync.records import RegistryState
from apps.mlflow_sync.services import registry_lock, registry_mirror_promotion, registry_session
from apps.promotions import gates, notify, selectors
from apps.promotions.errors import PromotionDenied, PromotionError
from apps.promotions.models import Promotion, PromotionPolicy

logger = logging.getLogger(__name__)
Status = Promotion.Status


def _target_text(promotion: Promotion) -> str:
    return f"{promotion.model.name} v{promotion.version} → {promotion.target_label}"


def _record(promotion: Promotion, action: str, actor: Actor | None, **fields: Any) -> Any:
    return audit_record(
        action=action,
        target_type="promotion",
        target_id=promotion.pk,
        target_text=_target_text(promotion),
        actor=actor or Actor.system("worker"),
        **fields,
    )


def _may_promote(actor: Actor) -> bool:
    """An approver (``promotions.promote_modelversion``, active), or the server's command line."""
    if actor.user is None:
        return actor.is_cli
    return bool(actor.user.is_active and actor.user.has_perm(selectors.PERMISSION))


def _denied(actor: Actor, attempted: str, what: str, target_type: str, target_id: Any, why: str) -> PromotionDenied:
    """Record a refused attempt (its own transaction: it stays recorded though nothing else happens) and return the
    error to raise."""
    with transaction.atomic():
        audit_record(
            action="promotion.denied",
            target_type=target_type,
            target_id=target_id,
            target_text=what,
            actor=actor,
            after={"attempted": attempted, "why": why},
        )
    return PromotionDenied(why)


def promotion_denied_attempt(*, actor: Actor, attempted: str, what: str, target_type: str, target_id: Any) -> None:
    """Record an attempt the web layer refused before reaching a service (a user without the permission)."""
    _denied(actor, attempted, what, target_type, target_id, "no permission to promote or approve")


def _queue(promotion_id: int) -> None:
    """Hand a pending promotion to the worker. Without Redis the embedded scheduler picks it up (a web request
    never talks to MLflow)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from apps.promotions.tasks import execute_promotion

        execute_promotion.delay(promotion_id)


def _state_json(state: RegistryState, promotion: Promotion) -> dict[str, Any]:
    """What the events and the promotion keep of MLflow's state: the target's alias and stage holders and the
    version's own stage."""
    return {
        "alias": promotion.target,
        "alias_version": state.aliases.get(promotion.target),
        "stage": promotion.stage or None,
        "stage_versions": state.stage_holders(promotion.stage) if promotion.stage else [],
        "version_stage": state.stages.get(promotion.version),
    }


# -- requests and decisions ------------------------------------------------------------------------------------


def promotion_request(
    *, version: ModelVersion, target: str, reason: str, actor: Actor, idempotency_key: str = ""
) -> Promotion:
    """Request moving ``version`` to ``target`` and return the ``Promotion``: ``pending`` (queued for MLflow),
    ``awaiting_approval`` (the target needs a second approver) or ``refused`` (a gate did not pass; kept with the
    gate results). The same ``idempotency_key`` again returns the first request unchanged.

    Refuses (``PromotionDenied``, recorded) an actor without the permission; refuses (``PromotionError``) a missing
    reason, an unknown target, a deleted version and a version that already holds the target."""
    key = (idempotency_key or uuid.uuid4().hex)[:64]
    existing = Promotion.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.model_version_id != version.pk or existing.target != target:
            raise PromotionError("This request key was already used for another promotion.", hint="Reload the form.")
        return existing
    what = f"{version.model.name} v{version.version} → {target}"
    if not _may_promote(actor):
        raise _denied(actor, "request", what, "model_version", version.pk, "no permission to promote model versions")
    reason = reason.strip()
    if not reason:
        raise PromotionError("A reason is required.", hint="Say why this version should serve as the target.")
    version = ModelVersion.objects.select_related("model", "source").get(pk=version.pk)
    if version.deleted or version.model.deleted:
        raise PromotionError(f"{version} is deleted in MLflow.", hint="Sync the source if it was restored.")
    chosen = selectors.target_get(version.model, target)
    preview = selectors.promotion_preview(version=version, target=chosen)
    if preview.already_holds:
        raise PromotionError(f"Version {version.version} already holds {chosen.label}.")
    results = [r.as_dict() for r in preview.gate_results]
    refused = not preview.passed
    status = Status.REFUSED if refused else Status.AWAITING_APPROVAL if chosen.four_eyes else Status.PENDING
    now = timezone.now()
    try:
        with transaction.atomic():
            promotion = Promotion.objects.create(
                model=version.model,
                model_version=version,
                version=version.version,
                target=chosen.alias,
                stage=chosen.stage,
                archive_existing=chosen.archive_existing,
                status=status,
                reason=reason,
                idempotency_key=key,
                requested_by=actor.user,  # type: ignore[misc]
                requested_by_name=actor.name[:150],
                requested_at=now,
                approval_required=chosen.four_eyes,
                expected_alias_version=preview.holders.alias_version,
                expected_stage_versions=preview.holders.stage_versions,
                gate_results=results,
                finished_at=now if refused else None,
                outcome="Refused by the gates: "
                + "; ".join(f"{g['label']}: {g['detail']}" for g in promotion_failed(results))
                if refused
                else "",
            )
            _record(
                promotion,
                "promotion.refused" if refused else "promotion.requested",
                actor,
                before={
                    "alias_version": preview.holders.alias_version,
                    "stage_versions": preview.holders.stage_versions,
                },
                after={
                    "model": version.model.name,
                    "source": version.source.name,
                    "version": version.version,
                    "target": chosen.alias,
                    "stage": chosen.stage or None,
                    "archive_existing": chosen.archive_existing,
                    "status": status,
                    "approval_required": chosen.four_eyes,
                    "gates": results,
                    "outcome": promotion.outcome,
                },
                reason=reason,
            )
            if status == Status.PENDING:
                transaction.on_commit(lambda: _queue(promotion.pk))
            if status == Status.AWAITING_APPROVAL:
                transaction.on_commit(lambda: notify.promotion_notify(promotion.pk, "waiting", actor.name))
    except IntegrityError:
        # The same key arrived twice at once (a double click): the first one wins, the second gets it.
        existing = Promotion.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing
    return promotion


def promotion_failed(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for g in results if g.get("status") != gates.OK]


def _is_requester(promotion: Promotion, actor: Actor) -> bool:
    if actor.user is not None and promotion.requested_by_id is not None:
        return bool(promotion.requested_by_id == actor.user.pk)
    return promotion.requested_by_name == actor.name


def promotion_approve(*, promotion: Promotion, actor: Actor, note: str = "") -> Promotion:
    """Approve a request waiting for a second approver: the gates are checked again, then it is ``pending``
    (queued for MLflow) or ``refused``. Refuses (``PromotionDenied``, recorded) an actor without the permission and
    the requester approving their own request; refuses (``PromotionError``) a promotion not waiting for approval."""
    what = _target_text(promotion)
    if not _may_promote(actor):
        raise _denied(actor, "approve", what, "promotion", promotion.pk, "no permission to approve promotions")
    if _is_requester(promotion, actor):
        raise _denied(
            actor, "approve", what, "promotion", promotion.pk, "the requester may not approve their own promotion"
        )
    if promotion.status != Status.AWAITING_APPROVAL:
        raise PromotionError(
            f"Promotion #{promotion.pk} is {promotion.get_status_display()}, not waiting for approval."
        )
    version = ModelVersion.objects.select_related("model").get(pk=promotion.model_version_id)
    chosen = selectors.target_get(version.model, promotion.target)
    results = [r.as_dict() for r in selectors.gate_results(version, chosen)]
    refused = not gates.passed(results)
    now = timezone.now()
    with transaction.atomic():
        status = Status.REFUSED if refused else Status.PENDING
        updated = Promotion.objects.filter(pk=promotion.pk, status=Status.AWAITING_APPROVAL).update(
            status=status,
            decided_by=actor.user,
            decided_by_name=actor.name[:150],
            decided_at=now,
            decision_note=note.strip(),
            gate_results=results,
            finished_at=now if refused else None,
            outcome="Refused by the gates at approval: "
            + "; ".join(f"{g['label']}: {g['detail']}" for g in promotion_failed(results))
            if refused
            else "",
        )
        if not updated:
            raise PromotionError(f"Promotion #{promotion.pk} was decided meanwhile.", hint="Reload the page.")
        promotion.refresh_from_db()
        _record(
            promotion,
            "promotion.refused" if refused else "promotion.approved",
            actor,
            after={"status": status, "gates": results, "outcome": promotion.outcome},
            reason=note.strip(),
        )
        if not refused:
            transaction.on_commit(lambda: _queue(promotion.pk))
            transaction.on_commit(lambda: notify.promotion_notify(promotion.pk, "approved", actor.name))
    return promotion


def promotion_reject(*, promotion: Promotion, actor: Actor, note: str) -> Promotion:
    """Reject a request waiting for a second approver (a reason is required). Refuses the requester (they cancel
    instead) and actors without the permission (``PromotionDenied``, recorded)."""
    what = _target_text(promotion)
    if not _may_promote(actor):
        raise _denied(actor, "reject", what, "promotion", promotion.pk, "no permission to reject promotions")
    if _is_requester(promotion, actor):
        raise PromotionError("You requested this promotion: cancel it instead of rejecting it.")
    if not note.strip():
        raise PromotionError("Say why the promotion is rejected.")
    now = timezone.now()
    with transaction.atomic():
        updated = Promotion.objects.filter(pk=promotion.pk, status=Status.AWAITING_APPROVAL).update(
            status=Status.REJECTED,
            decided_by=actor.user,
            decided_by_name=actor.name[:150],
            decided_at=now,
            decision_note=note.strip(),
            finished_at=now,
            outcome=f"Rejected by {actor.name}.",
        )
        if not updated:
            raise PromotionError(f"Promotion #{promotion.pk} is not waiting for approval.", hint="Reload the page.")
        promotion.refresh_from_db()
        _record(promotion, "promotion.rejected", actor, after={"status": Status.REJECTED}, reason=note.strip())
        transaction.on_commit(lambda: notify.promotion_notify(promotion.pk, "rejected", actor.name))
    return promotion


def promotion_cancel(*, promotion: Promotion, actor: Actor, note: str = "") -> Promotion:
    """Withdraw a promotion that has not started writing to MLflow: waiting for approval, or pending before its
    first write. The requester or any approver may. Refuses (``PromotionError``) one already written or decided."""
    if not (_is_requester(promotion, actor) or _may_promote(actor)):
        raise _denied(actor, "cancel", _target_text(promotion), "promotion", promotion.pk, "no permission to cancel")
    now = timezone.now()
    with transaction.atomic():
        updated = Promotion.objects.filter(
            pk=promotion.pk, status__in=[Status.AWAITING_APPROVAL, Status.PENDING], write_started_at__isnull=True
        ).update(status=Status.CANCELLED, finished_at=now, outcome=f"Cancelled by {actor.name}.")
        if not updated:
            raise PromotionError(
                f"Promotion #{promotion.pk} can no longer be cancelled: it is {promotion.get_status_display()} or "
                "already being written to MLflow."
            )
        promotion.refresh_from_db()
        _record(promotion, "promotion.cancelled", actor, after={"status": Status.CANCELLED}, reason=note.strip())
    return promotion


# -- execution ---------------------------------------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    seconds = settings.PROMOTION_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.PROMOTION_RETRY_MAX_SECONDS))


def _landed(promotion: Promotion, state: RegistryState | None) -> tuple[bool, bool]:
    """Which of this promotion's writes MLflow holds now (alias, stage), after a write began; (False, False)
    before one did, or when MLflow could not be read."""
    if state is None or promotion.write_started_at is None:
        return False, False
    alias = state.aliases.get(promotion.target) == promotion.version
    stage = bool(promotion.stage) and state.stages.get(promotion.version) == promotion.stage
    return alias, stage


def _end(
    promotion: Promotion,
    status: str,
    action: str,
    actor: Actor,
    *,
    notify_as: str,
    landed: RegistryState | None = None,
    **fields: Any,
) -> Promotion:
    """Finish an executing promotion (this claim of it) with ``status`` and its event. When a write had begun and
    ``landed`` (MLflow re-read) shows part of it in MLflow, that part goes into the mirror and the registry history
    as promoted here, in the same transaction, so that no sync records it as a change made outside the
    dashboard."""
    now = timezone.now()
    outcome = str(fields.pop("outcome", ""))
    alias_landed, stage_landed = _landed(promotion, landed)
    if alias_landed or stage_landed:
        parts = ([f"@{promotion.target} on v{promotion.version}"] if alias_landed else []) + (
            [f"v{promotion.version} in {promotion.stage}"] if stage_landed else []
        )
        outcome += f" Part of it reached MLflow ({', '.join(parts)}): recorded in the registry history."
    with transaction.atomic():
        if alias_landed or stage_landed:
            registry_lock(promotion.model.source_id)  # before the audit log's lock, as a sync takes them
        updated = Promotion.objects.filter(
            pk=promotion.pk, status=Status.EXECUTING, claimed_at=promotion.claimed_at
        ).update(status=status, finished_at=now, outcome=outcome, claimed_at=None, **fields)
        if updated:
            promotion.refresh_from_db()
            event = _record(
                promotion,
                action,
                actor,
                before=promotion.mlflow_before,
                after={
                    "status": status,
                    "outcome": outcome,
                    "mlflow": promotion.mlflow_after,
                    "attempt": promotion.attempts,
                },
            )
            if (alias_landed or stage_landed) and landed is not None:
                registry_mirror_promotion(
                    model=promotion.model,
                    version=promotion.version,
                    alias=promotion.target if alias_landed else None,
                    stage=promotion.stage if stage_landed else "",
                    archive_existing=promotion.archive_existing,
                    confirmed=landed,
                    event=event,
                    actor=promotion.requested_by_name,
                    reason=promotion.reason,
                    not_before=promotion.write_started_at,
                )
            transaction.on_commit(lambda: notify.promotion_notify(promotion.pk, notify_as, actor.name))
    promotion.refresh_from_db()
    return promotion


def _retry_later(promotion: Promotion, error: str, actor: Actor) -> Promotion:
    """MLflow could not be reached: back to ``pending``, to be tried again after the backoff."""
    delay = _backoff(promotion.attempts)
    due = timezone.now() + delay
    with transaction.atomic():
        updated = Promotion.objects.filter(
            pk=promotion.pk, status=Status.EXECUTING, claimed_at=promotion.claimed_at
        ).update(status=Status.PENDING, claimed_at=None, next_attempt_at=due, last_error=error[:2000])
        if updated:
            promotion.refresh_from_db()
            _record(
                promotion,
                "promotion.retry",
                actor,
                after={"attempt": promotion.attempts, "error": error, "next_attempt_at": due, "status": Status.PENDING},
            )
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                from apps.promotions.tasks import execute_promotion

                pk, countdown = promotion.pk, delay.total_seconds()
                transaction.on_commit(lambda: execute_promotion.apply_async(args=[pk], countdown=countdown))
    promotion.refresh_from_db()
    return promotion


def _conflict(promotion: Promotion, state: RegistryState) -> str:
    """Why MLflow's state forbids writing ("" when it does not). Before the first write the target must be held exactly
    as the mirror showed at the request; after a write that may have landed, by that or by this promotion."""
    started = promotion.write_started_at is not None
    alias_now = state.aliases.get(promotion.target)
    allowed = {promotion.expected_alias_version} | ({promotion.version} if started else set())
    label = f"@{promotion.target}"
    if alias_now not in allowed:
        expected = f"v{promotion.expected_alias_version}" if promotion.expected_alias_version else "no version"
        now = f"v{alias_now}" if alias_now is not None else "no version"
        return (
            f"MLflow shows {label} on {now}, but the request expected {expected} (as the dashboard saw it when the "
            "promotion was requested): it was moved meanwhile."
        )
    if promotion.stage:
        holders = set(state.stage_holders(promotion.stage))
        expected_stage = set(promotion.expected_stage_versions or [])
        ok = holders == expected_stage or (started and holders <= expected_stage | {promotion.version})
        if not ok:
            return (
                f"MLflow shows stage {promotion.stage} on {_versions(holders)}, but the request expected "
                f"{_versions(expected_stage)}: it was changed meanwhile."
            )
    return ""


def _versions(versions: set[int]) -> str:
    return ", ".join(f"v{v}" for v in sorted(versions)) or "no version"


def _confirm(promotion: Promotion, confirmed: RegistryState, actor: Actor) -> Promotion:
    """Record ``confirmed`` and bring the mirror up to date, in one transaction."""
    now = timezone.now()
    after = _state_json(confirmed, promotion)
    archived = [v for v in promotion.expected_stage_versions or [] if confirmed.stages.get(v) == "Archived"]
    words = f"MLflow confirms {promotion.target_label}: @{promotion.target} on v{promotion.version}"
    if promotion.stage:
        words += f", stage {promotion.stage}" + (f" ({_versions(set(archived))} archived)" if archived else "")
    with transaction.atomic():
        # The registry's lock first, the audit log's last: the order a registry sync takes them in.
        registry_lock(promotion.model.source_id)
        updated = Promotion.objects.filter(
            pk=promotion.pk, status=Status.EXECUTING, claimed_at=promotion.claimed_at
        ).update(status=Status.CONFIRMED, finished_at=now, mlflow_after=after, outcome=words + ".", claimed_at=None)
        if not updated:  # the sweeper released this claim meanwhile; the other execution confirms
            promotion.refresh_from_db()
            return promotion
        promotion.refresh_from_db()
        who = promotion.requested_by_name + (
            f", approved by {promotion.decided_by_name}" if promotion.decided_by_name else ""
        )
        event = _record(
            promotion,
            "promotion.confirmed",
            actor,
            before=promotion.mlflow_before,
            after={"status": Status.CONFIRMED, "outcome": promotion.outcome, "mlflow": after, "requested_by": who},
            reason=promotion.reason,
        )
        registry_mirror_promotion(
            model=promotion.model,
            version=promotion.version,
            alias=promotion.target,
            stage=promotion.stage,
            archive_existing=promotion.archive_existing,
            confirmed=confirmed,
            event=event,
            actor=who,
            reason=promotion.reason,
            not_before=promotion.write_started_at,
        )
        transaction.on_commit(lambda: notify.promotion_notify(promotion.pk, "confirmed", actor.name))
    return promotion


def _claim(promotion: Promotion, actor: Actor) -> Promotion | None:
    """Take the (model, target) slot. None when the promotion is not due, not pending any more, or another
    promotion of the same model and target holds the slot (then it is tried again shortly)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = (
                Promotion.objects.filter(pk=promotion.pk, status=Status.PENDING)
                .exclude(next_attempt_at__gt=now)
                .update(
                    status=Status.EXECUTING,
                    claimed_at=now,
                    heartbeat_at=now,
                    attempts=F("attempts") + 1,
                    next_attempt_at=None,
                )
            )
            if not claimed:
                return None
            promotion.refresh_from_db()
            _record(promotion, "promotion.executing", actor, after={"attempt": promotion.attempts})
    except IntegrityError:
        Promotion.objects.filter(pk=promotion.pk, status=Status.PENDING).update(
            next_attempt_at=now + timedelta(seconds=settings.PROMOTION_SLOT_WAIT_SECONDS)
        )
        return None
    return promotion


class _ClaimLost(Exception):
    """The sweeper released this execution (its heartbeat went stale): another one may be running now."""


def _beat(promotion: Promotion) -> None:
    """Beat the execution's heart before an MLflow call; refuses (``_ClaimLost``) when its claim is gone, so a
    released execution never writes."""
    if not Promotion.objects.filter(pk=promotion.pk, status=Status.EXECUTING, claimed_at=promotion.claimed_at).update(
        heartbeat_at=timezone.now()
    ):
        raise _ClaimLost


def _reread(session: Any, name: str) -> RegistryState | None:
    """MLflow's state after a failed write, when it can be read (what of the write landed)."""
    try:
        return session.read(name)  # type: ignore[no-any-return]
    except (RegistryUnavailable, RegistryRefused):
        return None


def promotion_execute(promotion_id: int, *, actor: Actor | None = None) -> Promotion | None:
    """Write one pending, due promotion to MLflow and record what became of it (see the module's docstring). Does
    nothing to a promotion that is not pending or not due yet. Returns it as it ends up (None: no such promotion).
    Never raises for MLflow's failures: they are the promotion's outcome."""
    actor = actor or Actor.system("worker")
    promotion = Promotion.objects.select_related("model", "model__source").filter(pk=promotion_id).first()
    if promotion is None or promotion.status != Status.PENDING:
        return promotion
    claimed = _claim(promotion, actor)
    if claimed is None:
        promotion.refresh_from_db()
        return promotion
    promotion = claimed
    name = promotion.model.name
    try:
        with registry_session(promotion.model.source, timeout=settings.PROMOTION_MLFLOW_TIMEOUT_SECONDS) as session:
            state = session.read(name)
            if promotion.version not in state.stages:
                return _end(
                    promotion, Status.FAILED, "promotion.failed", actor, notify_as="failed",
                    outcome=f"MLflow has no version {promotion.version} of {name} (deleted meanwhile).",
                    mlflow_after=_state_json(state, promotion), landed=state,
                )  # fmt: skip
            problem = _conflict(promotion, state)
            if problem:
                return _end(
                    promotion, Status.CONFLICT, "promotion.conflict", actor, notify_as="conflict",
                    outcome=problem, mlflow_after=_state_json(state, promotion), landed=state,
                )  # fmt: skip
            _beat(promotion)
            if promotion.write_started_at is None:
                started = timezone.now()
                Promotion.objects.filter(pk=promotion.pk).update(
                    write_started_at=started, mlflow_before=_state_json(state, promotion)
                )
                promotion.write_started_at, promotion.mlflow_before = started, _state_json(state, promotion)
            try:
                session.set_alias(name, promotion.target, promotion.version)
                if promotion.stage:
                    _beat(promotion)
                    session.set_stage(
                        name, promotion.version, promotion.stage, archive_existing=promotion.archive_existing
                    )
            except RegistryRefused as exc:
                return _end(
                    promotion, Status.FAILED, "promotion.failed", actor, notify_as="failed",
                    outcome=f"MLflow refused the write: {exc}", last_error=str(exc)[:2000],
                    landed=_reread(session, name),
                )  # fmt: skip
            _beat(promotion)
            confirmed = session.read(name)
    except _ClaimLost:
        promotion.refresh_from_db()
        return promotion
    except RegistryUnavailable as exc:
        return _retry_later(promotion, str(exc), actor)
    except RegistryRefused as exc:
        return _end(
            promotion, Status.FAILED, "promotion.failed", actor, notify_as="failed",
            outcome=f"MLflow refused: {exc}", last_error=str(exc)[:2000],
        )  # fmt: skip
    holds_alias = confirmed.aliases.get(promotion.target) == promotion.version
    holds_stage = not promotion.stage or confirmed.stages.get(promotion.version) == promotion.stage
    if not (holds_alias and holds_stage):
        return _end(
            promotion, Status.CONFLICT, "promotion.conflict", actor, notify_as="conflict",
            outcome="After the write MLflow shows "
            f"@{promotion.target} on v{confirmed.aliases.get(promotion.target)} and v{promotion.version} in "
            f"{confirmed.stages.get(promotion.version)}: another writer changed it at the same time.",
            mlflow_after=_state_json(confirmed, promotion), landed=confirmed,
        )  # fmt: skip
    return _confirm(promotion, confirmed, actor)


def promotion_sweep(*, actor: Actor | None = None, run: bool = False, limit: int = 20) -> list[int]:
    """The sweeper: release promotions whose execution stopped without an outcome (no progress for
    ``PROMOTION_STALE_SECONDS``: the worker died) back to ``pending``; fail pending ones older than
    ``PROMOTION_PENDING_MAX_HOURS`` (MLflow unreachable all that time; a sync then records whatever MLflow holds); and return the ids of pending promotions that are due, oldest first (with
    ``run``, execute them here: the embedded scheduler and the ``promote`` command do)."""
    actor = actor or Actor.system("sweeper")
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PROMOTION_STALE_SECONDS)
    stopped = Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, claimed_at__lt=stale)
    for promotion in Promotion.objects.select_related("model").filter(stopped, status=Status.EXECUTING):
        with transaction.atomic():
            if Promotion.objects.filter(
                pk=promotion.pk, status=Status.EXECUTING, claimed_at=promotion.claimed_at
            ).update(status=Status.PENDING, claimed_at=None, next_attempt_at=now, last_error="Its execution stopped."):
                _record(
                    promotion, "promotion.retry", actor,
                    after={"attempt": promotion.attempts, "error": "the execution stopped without an outcome "
                           "(worker died?)", "status": Status.PENDING},
                )  # fmt: skip
    expiry = now - timedelta(hours=settings.PROMOTION_PENDING_MAX_HOURS)
    expired = Promotion.objects.select_related("model").filter(
        Q(decided_at__isnull=True, requested_at__lt=expiry) | Q(decided_at__lt=expiry), status=Status.PENDING
    )
    for promotion in expired:
        hours = settings.PROMOTION_PENDING_MAX_HOURS
        if promotion.write_started_at is None:
            outcome = (
                f"Not written: MLflow could not be reached for {hours} hours "
                f"({promotion.last_error or 'no attempt made'}). Request it again."
            )
        else:
            outcome = (
                f"Not confirmed: MLflow could not be reached for {hours} hours after the write began "
                f"({promotion.last_error}). MLflow may hold part of it; the next sync records what it holds."
            )
        with transaction.atomic():
            if Promotion.objects.filter(pk=promotion.pk, status=Status.PENDING).update(
                status=Status.FAILED, finished_at=now, outcome=outcome
            ):
                _record(promotion, "promotion.failed", actor, after={"status": Status.FAILED, "outcome": outcome})
                transaction.on_commit(partial(notify.promotion_notify, promotion.pk, "failed", actor.name))
    due = list(
        Promotion.objects.filter(status=Status.PENDING)
        .exclude(next_attempt_at__gt=now)
        .order_by("requested_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if run:
        for pk in due:
            promotion_execute(pk, actor=actor)
    return due


# -- policies (the admin) ----------------------------------------------------------------------------------------
POLICY_FIELDS = (
    "target", "stage", "stage_mode", "archive_existing", "require_verdict", "metric_gates", "require_retrievable",
    "four_eyes",
)  # fmt: skip


def policy_save(*, policy: PromotionPolicy, actor: Actor) -> PromotionPolicy:
    """Save a promotion policy edited in the admin (validated by its form), recording ``policy.added`` or
    ``policy.changed`` with the fields before and after; no change records nothing."""
    audit_saved(
        policy, fields=POLICY_FIELDS, kind="policy", target_type="promotion_policy",
        target_text=f"{policy.model.name} → {policy.target}", actor=actor,
    )  # fmt: skip
    return policy


def policy_delete(*, policy: PromotionPolicy, actor: Actor) -> None:
    with transaction.atomic():
        before = audit_snapshot(policy, POLICY_FIELDS)
        pk, text = policy.pk, f"{policy.model.name} → {policy.target}"
        policy.delete()
        audit_record(
            action="policy.deleted", target_type="promotion_policy", target_id=pk, target_text=text, actor=actor,
            before=before,
        )  # fmt: skip
