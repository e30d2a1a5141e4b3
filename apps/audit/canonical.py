"""The canonical form of an audit event and its hash: pure functions, no ORM, reproducible with the standard library
alone (the export bundle's ``verify.py`` does the same computation).

canonical JSON = ``json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of the event's
fields ``seq, at, actor_id, actor, action, target_type, target_id, target_text, before, after, reason, request_id``,
with ``at`` in UTC ISO-8601 with microseconds (``2026-12-07T22:48:18.123456+00:00``);
``hash = sha256(prev_hash + canonical JSON).hexdigest()`` over UTF-8, and the first event's ``prev_hash`` is 64 zeros.

The hash is computed from the values as the database stores them, so ``plain`` first brings every value to what
both SQLite and PostgreSQL give back unchanged: JSON types only, no NUL characters or lone surrogates (PostgreSQL's
text refuses them), no ``-0.0``, non-finite floats as strings, and floats of 1e16 and more as integers (jsonb
prints them without an exponent, which reads back as an int).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_text",
    "before",
    "after",
    "reason",
    "request_id",
)


def text(value: object, limit: int | None = None) -> str:
    """``value`` as a string both databases store unchanged, cut to ``limit`` characters."""
    s = value if isinstance(value, str) else str(value)
    if "\x00" in s:
        s = s.replace("\x00", "\ufffd")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s[:limit] if limit is not None else s


def plain(value: Any) -> Any:
    """``value`` as JSON data that round-trips through SQLite's JSON text and PostgreSQL's jsonb unchanged."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return 0.0
        if abs(value) >= 1e16:
            return int(value)
        return value
    if isinstance(value, Decimal):
        return plain(float(value))
    if isinstance(value, str):
        return text(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {text(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return text(value)


def iso(moment: datetime) -> str:
    """A timezone-aware datetime in UTC ISO-8601 with microseconds. A naive one is refused: its zone is unknown."""
    if moment.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(event: Mapping[str, Any]) -> str:
    """The canonical JSON of an event given as a mapping with (at least) ``FIELDS``; ``at`` as a datetime or as
    its ISO text."""
    fields = {name: event[name] for name in FIELDS}
    if isinstance(fields["at"], datetime):
        fields["at"] = iso(fields["at"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, canonical_json: str) -> str:
    return hashlib.sha256((prev_hash + canonical_json).encode("utf-8")).hexdigest()
