"""The registry's history as the dashboard keeps it (MLflow keeps none): what changed between two readings of a
model's aliases, stages and versions. Pure functions over plain data, no ORM.

A model's state is its aliases (alias → version), each live version's stage (``"None"`` when it has none), and so
its set of versions. ``registry_diff`` lists each change between two states, ``baseline`` the state first seen as
changes from nothing; ``describe`` says a change in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NO_STAGE = "None"


@dataclass(frozen=True)
class ModelState:
    aliases: dict[str, int] = field(default_factory=dict)
    stages: dict[int, str] = field(default_factory=dict)  # version -> stage, for every live version

    @property
    def versions(self) -> set[int]:
        return set(self.stages)


@dataclass(frozen=True)
class Change:
    """One change. ``field`` is ``alias`` (``name`` the alias, ``before``/``after`` the holding version as text, ""
    for none), ``stage`` (``version`` whose stage went from ``before`` to ``after``), ``version`` (``version``
    registered or deleted) or ``model`` (the model registered or deleted)."""

    field: str
    name: str = ""
    version: int | None = None
    before: str = ""
    after: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "name": self.name, "version": self.version, "before": self.before,
                "after": self.after, "change": describe(self)}  # fmt: skip


def _v(version: int | None) -> str:
    return "" if version is None else str(version)


def registry_diff(before: ModelState | None, after: ModelState | None) -> list[Change]:
    """Every change from ``before`` to ``after`` (None: the model did not exist), in a stable order: the model,
    versions registered, stage moves, aliases, versions deleted."""
    if before is None and after is None:
        return []
    changes: list[Change] = []
    old = before or ModelState()
    new = after or ModelState()
    if before is None:
        changes.append(Change(field="model", after="registered"))
    for version in sorted(new.versions - old.versions):
        changes.append(Change(field="version", version=version, after="registered"))
        if new.stages[version] != NO_STAGE:
            changes.append(Change(field="stage", version=version, before=NO_STAGE, after=new.stages[version]))
    for version in sorted(new.versions & old.versions):
        if old.stages[version] != new.stages[version]:
            changes.append(
                Change(field="stage", version=version, before=old.stages[version], after=new.stages[version])
            )
    for alias in sorted(old.aliases.keys() | new.aliases.keys()):
        was, now = old.aliases.get(alias), new.aliases.get(alias)
        if was != now:
            changes.append(Change(field="alias", name=alias, version=now, before=_v(was), after=_v(now)))
    for version in sorted(old.versions - new.versions):
        changes.append(Change(field="version", version=version, before="registered", after="deleted"))
    if after is None:
        changes.append(Change(field="model", before="registered", after="deleted"))
    return changes


def baseline(state: ModelState) -> list[Change]:
    """The state first seen, as the changes that make it from nothing (model and versions not listed: a baseline
    records what holds what)."""
    return [c for c in registry_diff(ModelState(), state) if c.field in ("alias", "stage")]


def _stage(stage: str) -> str:
    return "no stage" if stage in ("", NO_STAGE) else stage


def describe(change: Change) -> str:
    """A change in words, e.g. ``@production: v3 → v4``, ``v4: Staging → Production``, ``v7 registered``."""
    if change.field == "alias":
        was = f"v{change.before}" if change.before else "none"
        now = f"v{change.after}" if change.after else "removed"
        return f"@{change.name}: {was} → {now}"
    if change.field == "stage":
        return f"v{change.version}: {_stage(change.before)} → {_stage(change.after)}"
    if change.field == "version":
        return f"v{change.version} {change.after}"
    return f"model {change.after}"
