"""Reads of the audit log: the filtered list the audit page shows, one event, the events about one target, the
chain head, and the verification of the whole chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Min, Q, QuerySet

from apps.audit import triggers
from apps.audit.chain import COLUMNS, Anchor, ChainReport, verify_rows
from apps.audit.models import AuditEvent


@dataclass(frozen=True)
class EventQuery:
    """What the audit page filters by; empty fields do not filter."""

    action: str = ""  # an action, or a prefix ending in "." ("promotion.")
    actor: str = ""  # exact actor name
    target_type: str = ""
    target: str = ""  # part of the target's text, or its id
    text: str = ""  # part of the target text or the reason
    since: datetime | None = None
    until: datetime | None = None


def event_list(query: EventQuery) -> QuerySet[AuditEvent]:
    """Events matching ``query``, newest first (by sequence number)."""
    qs = AuditEvent.objects.all()
    if query.action:
        qs = (
            qs.filter(action__startswith=query.action) if query.action.endswith(".") else qs.filter(action=query.action)
        )
    if query.actor:
        qs = qs.filter(actor_name=query.actor)
    if query.target_type:
        qs = qs.filter(target_type=query.target_type)
    if query.target:
        qs = qs.filter(Q(target_id=query.target) | Q(target_text__icontains=query.target))
    if query.text:
        qs = qs.filter(Q(target_text__icontains=query.text) | Q(reason__icontains=query.text))
    if query.since is not None:
        qs = qs.filter(at__gte=query.since)
    if query.until is not None:
        qs = qs.filter(at__lt=query.until)
    return qs.order_by("-seq")


def event_get(seq: int) -> AuditEvent:
    """One event; raises ``AuditEvent.DoesNotExist``."""
    return AuditEvent.objects.get(seq=seq)


def events_for(target_type: str, target_id: str | int, *, limit: int = 200) -> list[AuditEvent]:
    """The events about one target, oldest first (at most ``limit``, the newest of them)."""
    newest = AuditEvent.objects.filter(target_type=target_type, target_id=str(target_id)).order_by("-seq")[:limit]
    return sorted(newest, key=lambda e: e.seq)


def _distinct(column: str) -> list[str]:
    """The distinct values of an indexed column, one index seek per value (a skip scan: a plain DISTINCT reads all
    of a log of millions of rows)."""
    values: list[str] = []
    while True:
        following = AuditEvent.objects.filter(**{f"{column}__gt": values[-1]}) if values else AuditEvent.objects.all()
        found = following.aggregate(next=Min(column))["next"]
        if found is None:
            return values
        values.append(found)


def action_choices() -> list[str]:
    """Every action the log holds, for the filter menu (a query per action, on its index)."""
    return _distinct("action")


def target_type_choices() -> list[str]:
    """Every kind of target the log holds (a query per kind, on the target index)."""
    return _distinct("target_type")


def event_count(query: EventQuery, head: tuple[int, str] | None) -> int | None:
    """How many events match, when that is cheap: for the whole log, the ``head``'s sequence number (sequence
    numbers run 1, 2, 3… without a gap, which ``verify_audit_log`` checks); None otherwise (the page counts)."""
    if query == EventQuery():
        return head[0] if head else 0
    return None


def chain_head() -> tuple[int, str] | None:
    """The newest event's (sequence number, hash): the anchor to write down; None for an empty log."""
    return AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()


def _rows(from_seq: int, batch: int) -> Iterator[Sequence[Any]]:
    """Every row from ``from_seq`` on in sequence order, read in keyset batches (no cursor held across batches, so
    a long verification does not pin a snapshot or block writers)."""
    qn = connection.ops.quote_name
    table = qn(AuditEvent._meta.db_table)
    # The time as text in the form chain._at takes without parsing: SQLite's stored UTC text; on PostgreSQL the
    # canonical form itself.
    at = (
        "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        if connection.vendor == "postgresql"
        else "CAST(at AS TEXT)"
    )
    columns = ", ".join(at if c == "at" else qn(c) for c in COLUMNS)
    sql = f"SELECT {columns} FROM {table} WHERE seq >= %s ORDER BY seq LIMIT %s"  # noqa: S608 - names, not input
    start = from_seq
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [start, batch])
            rows = cursor.fetchall()
            if not rows:
                return
            yield from rows
            if len(rows) < batch:
                return
            start = rows[-1][0] + 1


def chain_verify(
    *, anchors: Sequence[Anchor] = (), batch: int = 20_000, progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Re-compute the whole chain from the first event (see ``apps.audit.chain``) and check the anchors."""

    def counted() -> Iterator[Sequence[Any]]:
        for n, row in enumerate(_rows(1, batch), start=1):
            if progress is not None and n % 100_000 == 0:
                progress(n)
            yield row

    return verify_rows(counted(), anchors=anchors)


def triggers_missing() -> list[str]:
    """Which append-only triggers are gone from the database (none: all in place)."""
    return triggers.missing()
