"""Where an audit event's target opens: apps above ``audit`` register a URL builder per target type (``audit``
knows no other app's models or URLs)."""

from __future__ import annotations

from collections.abc import Callable

_builders: dict[str, Callable[[str], str]] = {}


def register_target_url(target_type: str, build: Callable[[str], str]) -> None:
    """``build(target_id)`` returns the page of that target, or "" when it has none."""
    _builders[target_type] = build


def target_url(target_type: str, target_id: str) -> str:
    build = _builders.get(target_type)
    if build is None or not target_id:
        return ""
    try:
        return build(target_id)
    except Exception:  # a target that no longer resolves (a deleted source) has no page; the event still reads
        return ""
