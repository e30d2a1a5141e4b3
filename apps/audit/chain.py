"""Verification of the hash chain over rows as the database returns them: pure, no ORM (``selectors.chain_verify``
feeds it). It re-computes every hash from the stored values and checks that sequence numbers run 1, 2, 3… without
a gap, that each ``prev_hash`` is the previous row's ``hash``, and that each anchor (a ``SEQ:HASH`` written down
outside the database) still matches."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.utils.dateparse import parse_datetime

from apps.audit import canonical
from apps.audit.models import GENESIS_HASH

# The columns the rows carry, in this order.
COLUMNS = (
    "seq", "at", "actor_id", "actor_name", "action", "target_type", "target_id", "target_text", "before", "after",
    "reason", "request_id", "prev_hash", "hash",
)  # fmt: skip
_ANCHOR = re.compile(r"(\d+):([0-9a-f]{64})")


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``SEQ:HASH`` as printed by the anchor log line, an export manifest or ``verify_audit_log``."""
        found = _ANCHOR.fullmatch(text.strip().lower())
        if found is None:
            raise ValueError(f"An anchor is SEQ:HASH (a sequence number, a colon, 64 hex digits), not {text!r}.")
        return cls(seq=int(found[1]), hash=found[2])

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass
class ChainReport:
    """The outcome: ``ok``, how many events were checked, the head, and the first problem (its sequence number and
    what is wrong) or a missed anchor."""

    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    bad_seq: int | None = None
    problem: str = ""
    anchors_checked: list[Anchor] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad_seq is None and not self.problem


def _at(value: Any) -> str:
    """A stored time as canonical text. ``selectors`` reads SQLite's naive UTC text (``2026-12-07 22:48:18.123456``)
    and PostgreSQL's time already formatted as canonical text; anything else is parsed."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        if len(value) == 19 and value[10] == " ":  # a whole second: SQLite's text has no fraction
            return f"{value[:10]}T{value[11:]}.000000+00:00"
        if len(value) == 32 and value[10] == "T" and value.endswith("+00:00"):
            return value
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"unreadable time {value!r}")
        value = parsed
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return canonical.iso(value)


# The standard library's decoder, not a faster one: orjson, say, reads an integer beyond 64 bits as a float.
_DECODE = json.JSONDecoder().decode


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    return _DECODE(value) if isinstance(value, str) else value


# The canonical form (``canonical.canonical``) with one encoder made once: a million events each pay for dumps().
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def verify_rows(rows: Iterable[Sequence[Any]], *, anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Check rows in ``COLUMNS`` order, sorted by sequence number. Stops at the first bad row."""
    report = ChainReport()
    wanted = {anchor.seq: anchor for anchor in anchors}
    expected_seq = 1
    prev = GENESIS_HASH
    for row in rows:
        seq, at, actor_id, actor, action, ttype, tid, ttext, before, after, reason, req, prev_hash, digest = row
        if seq != expected_seq:
            report.bad_seq = expected_seq if seq > expected_seq else seq
            report.problem = (
                f"events {expected_seq}–{seq - 1} are missing (deleted, or renumbered)"
                if seq > expected_seq
                else f"sequence number {seq} appears out of order after {expected_seq - 1}"
            )
            return report
        if prev_hash != prev:
            report.bad_seq = seq
            report.problem = "its prev_hash is not the hash of the event before it (an event was removed or reordered)"
            return report
        try:
            body = _ENCODE(
                {
                    "seq": seq, "at": _at(at), "actor_id": actor_id, "actor": actor, "action": action,
                    "target_type": ttype, "target_id": tid, "target_text": ttext, "before": _json(before),
                    "after": _json(after), "reason": reason, "request_id": req,
                }
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            report.bad_seq = seq
            report.problem = f"its stored values cannot be read ({exc})"
            return report
        if canonical.chain_hash(prev, body) != digest:
            report.bad_seq = seq
            report.problem = "its content does not match its hash (the row was changed after it was written)"
            return report
        anchor = wanted.get(seq)
        if anchor is not None:
            if anchor.hash != digest:
                report.bad_seq = seq
                report.problem = (
                    f"the anchor {anchor} does not match: the event there now has hash {digest} (the chain was "
                    "rewritten from this event or earlier)"
                )
                return report
            report.anchors_checked.append(anchor)
        prev = digest
        expected_seq += 1
        report.checked += 1
        report.head_seq, report.head_hash = seq, digest
    for seq in sorted(set(wanted) - {a.seq for a in report.anchors_checked}):
        report.bad_seq = seq
        report.problem = (
            f"the anchor {wanted[seq]} names an event the log does not have: it ends at {report.head_seq} "
            "(events were deleted)"
        )
        return report
    return report
