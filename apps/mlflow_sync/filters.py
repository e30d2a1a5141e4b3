"""The run-list filter language, MLflow-style: ``params.lr = 0.1 and metrics.auc > 0.8 and tags.team = 'fraud'``.

Pure functions over strings: no ORM here. ``parse_filter`` returns clauses the selector turns into a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "LIKE", "ILIKE")
SCOPES = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
}
ATTRIBUTES = {"status", "run_name", "name", "user_id", "user", "run_id", "git_commit", "git_branch"}

_CLAUSE = re.compile(
    r"""\s*(?P<scope>[A-Za-z_]+)\.(?:`(?P<qkey>[^`]+)`|"(?P<dkey>[^"]+)"|(?P<key>[\w.\-/:]+))\s*
        (?P<op>!=|>=|<=|=|>|<|(?i:ilike)|(?i:like))\s*
        (?:'(?P<sval>(?:[^'\\]|\\.)*)'|"(?P<dval>(?:[^"\\]|\\.)*)"|(?P<val>[^\s'"]+))\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


class FilterError(ValueError):
    """A filter the user typed that does not parse; the message says which part and how it should look."""


@dataclass(frozen=True)
class Clause:
    scope: str  # params | metrics | tags | attributes
    key: str
    op: str
    value: str


def _split(text: str) -> list[str]:
    """Split on ``and`` outside quotes."""
    parts, current, quote = [], [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        else:
            m = _AND.match(text, i)
            if m:
                parts.append("".join(current))
                current = []
                i = m.end()
                continue
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def parse_filter(text: str) -> list[Clause]:
    """Parse a filter into clauses; raises ``FilterError`` naming the part that does not parse."""
    clauses = []
    for part in _split(text.strip()):
        m = _CLAUSE.fullmatch(part)
        if not m:
            raise FilterError(
                f"Cannot read “{part}”. Write clauses like params.max_depth = 5, metrics.auc > 0.8 or "
                "tags.`mlflow.source.git.branch` = 'main', joined by and."
            )
        scope = SCOPES.get(m["scope"].lower())
        if scope is None:
            raise FilterError(f"Unknown scope “{m['scope']}”: use params, metrics, tags or attributes.")
        key = m["qkey"] or m["dkey"] or m["key"]
        value = next(v for v in (m["sval"], m["dval"], m["val"]) if v is not None)
        value = value.replace("\\'", "'").replace('\\"', '"')
        op = m["op"].upper()
        if scope == "metrics":
            if op in ("LIKE", "ILIKE"):
                raise FilterError(f"Metrics compare with numbers: {part}")
            try:
                float(value)
            except ValueError:
                raise FilterError(f"“{value}” is not a number (in {part}).") from None
        if scope == "attributes" and key not in ATTRIBUTES:
            raise FilterError(f"Unknown attribute “{key}”: use one of {', '.join(sorted(ATTRIBUTES))}.")
        clauses.append(Clause(scope=scope, key=key, op=op, value=value))
    return clauses
