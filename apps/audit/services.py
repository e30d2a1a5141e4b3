"""Writes of the audit log: appending an event (the only way a row gets there) and anchoring the chain head.

``audit_record`` joins the caller's transaction: the event commits or rolls back with the change it records, so a
state change and its event are never apart. Appends are serialised so that two events never claim the same
sequence number or previous hash: on PostgreSQL by an advisory lock held to the end of the transaction, on SQLite
by its single writer (the project's transactions take the write lock at BEGIN). The unique ``hash`` and
primary-key ``seq`` would refuse a fork anyway. Take the audit log's lock last: call ``audit_record`` after any
other lock the transaction takes (a row ``FOR UPDATE``, ``mlflow_sync.services.registry_lock``) and late in the
transaction, so that appends never wait in a lock cycle and the lock is held briefly.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.audit import canonical
from apps.audit.context import Actor, request_id
from apps.audit.models import GENESIS_HASH, AuditEvent

logger = logging.getLogger("apps.audit.anchor")

# pg_advisory_xact_lock key of the audit log's append lock (any constant other code does not use).
APPEND_LOCK = 0x6C696E656167  # "lineag"


def _limit(field: str) -> int | None:
    return getattr(AuditEvent._meta.get_field(field), "max_length", None)


def audit_record(
    *,
    action: str,
    target_type: str,
    target_id: str | int = "",
    target_text: str = "",
    actor: Actor | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
    request: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (or its own) and return it. ``before``/``after`` are any JSON-like
    data; strings are kept as the databases can store them (``canonical.plain``) and cut to the field lengths, so
    the hash is computed from exactly what is stored. ``request`` defaults to the current web request's id."""
    actor = actor or Actor.system()
    user = actor.user
    values: dict[str, Any] = {
        "at": at or timezone.now(),
        "actor_id": user.pk if user is not None else None,
        "actor": canonical.text(actor.name, _limit("actor_name")),
        "action": canonical.text(action, _limit("action")),
        "target_type": canonical.text(target_type, _limit("target_type")),
        "target_id": canonical.text(target_id, _limit("target_id")),
        "target_text": canonical.text(target_text, _limit("target_text")),
        "before": canonical.plain(before),
        "after": canonical.plain(after),
        "reason": canonical.text(reason),
        "request_id": canonical.text(request if request is not None else request_id(), _limit("request_id")),
    }
    with transaction.atomic():
        connection = transaction.get_connection()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        values["seq"] = seq
        digest = canonical.chain_hash(prev_hash, canonical.canonical(values))
        return AuditEvent.objects.create(
            seq=seq,
            at=values["at"],
            actor_id=values["actor_id"],
            actor_name=values["actor"],
            action=values["action"],
            target_type=values["target_type"],
            target_id=values["target_id"],
            target_text=values["target_text"],
            before=values["before"],
            after=values["after"],
            reason=values["reason"],
            request_id=values["request_id"],
            prev_hash=prev_hash,
            hash=digest,
        )


def audit_snapshot(instance: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a model instance as the ``before``/``after`` of an event (foreign keys by id)."""
    return {name: canonical.plain(getattr(instance, name)) for name in fields}


def audit_saved(
    instance: Any,
    *,
    fields: tuple[str, ...],
    kind: str,
    target_type: str,
    target_text: str,
    actor: Actor | None,
    target_id: str | int | None = None,
    wrap: str = "",
) -> AuditEvent | None:
    """Save ``instance`` (an admin's add or edit) in the caller's transaction and record ``<kind>.added`` with its
    ``fields``, or ``<kind>.changed`` with the fields that changed before and after; a save that changes nothing
    records nothing. The target is the instance unless ``target_id`` names another (a source, for a row of its
    own such as a remote, whose fields are then nested under ``wrap``). Returns the event."""
    with transaction.atomic():
        old = type(instance)._default_manager.filter(pk=instance.pk).first() if instance.pk else None
        before = audit_snapshot(old, fields) if old is not None else None
        instance.save()
        after = audit_snapshot(instance, fields)
        if before == after:
            return None
        changed = sorted(k for k in after if before is None or before.get(k) != after[k])
        old_part = {k: before[k] for k in changed} if before is not None else None
        new_part = {k: after[k] for k in changed}
        return audit_record(
            action=f"{kind}.added" if before is None and not wrap else f"{kind}.changed",
            target_type=target_type,
            target_id=instance.pk if target_id is None else target_id,
            target_text=target_text,
            actor=actor,
            before={wrap: old_part} if wrap else old_part,
            after={wrap: new_part} if wrap else new_part,
        )


def record_from_core(
    *,
    action: str,
    target_type: str,
    target_id: str | int = "",
    target_text: str = "",
    actor_username: str = "",
    actor_name: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    """The recorder ``core`` calls (``apps.core.registry.record_event``): ``core`` names its actor by username (a
    "Sync now" click) or by a process name (``scheduler``, ``cli:alice``)."""
    actor = None
    if actor_username:
        user = get_user_model().objects.filter(username=actor_username).first()
        actor = Actor(name=actor_username, user=user) if user is not None else Actor(name=actor_username)
    audit_record(
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_text=target_text,
        actor=actor or Actor.system(actor_name or "system"),
        before=before,
        after=after,
        reason=reason,
    )


def audit_anchor() -> tuple[int, str] | None:
    """Write the chain head (sequence number and hash) to the log and append it to ``AUDIT_ANCHOR_FILE``, outside
    the database: someone who rewrites rows and every later hash cannot also change what was written here. Returns
    the head, or None for an empty log. A file that cannot be written is logged, not raised."""
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash", "at").first()
    if head is None:
        return None
    seq, digest, at = head
    line = f"{timezone.now().isoformat(timespec='seconds')} audit chain head {seq}:{digest} (event at {at.isoformat()})"
    logger.info("%s", line)
    path = Path(settings.AUDIT_ANCHOR_FILE) if settings.AUDIT_ANCHOR_FILE else None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as exc:
            logger.error("could not append the audit chain head to %s: %s", path, exc)
    return seq, digest
