"""What differs between two runs: params, metrics, the data they trained on and the pipeline stages that made it.

Pure functions over plain data (dicts and small dataclasses): no ORM, no I/O. ``selectors.comparison`` feeds them
from the mirror; the compare page shows what they return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
SAME = "same"


@dataclass(frozen=True)
class ValueDiff:
    """One param or metric on both sides (``None`` where a side lacks it)."""

    key: str
    a: Any
    b: Any

    @property
    def status(self) -> str:
        if self.a is None:
            return ADDED
        if self.b is None:
            return REMOVED
        return SAME if self.a == self.b else CHANGED

    @property
    def changed(self) -> bool:
        return self.status != SAME

    @property
    def delta(self) -> float | None:
        """``b - a`` for two finite numbers, else ``None``."""
        if not _finite(self.a) or not _finite(self.b):
            return None
        return float(self.b) - float(self.a)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def diff_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueDiff]:
    """Every key of either side, by name."""
    return [ValueDiff(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b))]


@dataclass(frozen=True)
class DataSide:
    """A data version one run was linked to."""

    repo: str
    path: str
    md5: str
    size: int | None = None
    data_version_id: int | None = None
    evidence: tuple[str, ...] = ()
    detail: str = ""

    @property
    def conflict(self) -> bool:
        """The run's own evidence contradicts this link (it may have trained on other data than this md5)."""
        return "conflict" in self.evidence


@dataclass(frozen=True)
class DataDiff:
    repo: str
    path: str
    a: DataSide | None
    b: DataSide | None

    @property
    def status(self) -> str:
        if self.a is None:
            return ADDED
        if self.b is None:
            return REMOVED
        return SAME if self.a.md5 == self.b.md5 else CHANGED

    @property
    def conflict(self) -> bool:
        return bool(self.a and self.a.conflict) or bool(self.b and self.b.conflict)


def diff_data(a: Iterable[DataSide], b: Iterable[DataSide]) -> list[DataDiff]:
    """Per (repo, path): the version each side trained on, changed or contradicted ones first, then by path. A side
    linked twice to one path keeps its first (strongest) link."""
    left: dict[tuple[str, str], DataSide] = {}
    right: dict[tuple[str, str], DataSide] = {}
    for side, into in ((a, left), (b, right)):
        for item in side:
            if item.path:
                into.setdefault((item.repo, item.path), item)
    rows = [DataDiff(repo, path, left.get((repo, path)), right.get((repo, path))) for repo, path in left | right]
    return sorted(rows, key=lambda row: (row.status == SAME and not row.conflict, row.path, row.repo))


@dataclass(frozen=True)
class HashChange:
    path: str
    a: str | None
    b: str | None

    @property
    def status(self) -> str:
        return ADDED if self.a is None else REMOVED if self.b is None else CHANGED


@dataclass(frozen=True)
class ParamChange:
    file: str
    key: str
    a: Any
    b: Any
    in_a: bool = True
    in_b: bool = True


@dataclass
class StageDiff:
    """A pipeline stage that differs between the two ``dvc.lock`` states (or exists on one side only)."""

    address: str
    status: str
    cmd_a: str = ""
    cmd_b: str = ""
    deps: list[HashChange] = field(default_factory=list)
    outs: list[HashChange] = field(default_factory=list)
    params: list[ParamChange] = field(default_factory=list)

    @property
    def cmd_changed(self) -> bool:
        return self.status == CHANGED and self.cmd_a != self.cmd_b


@dataclass
class StagesDiff:
    changed: list[StageDiff]
    same: list[str]


def _cmd(info: Mapping[str, Any]) -> str:
    cmd = info.get("cmd", "")
    return "\n".join(str(c) for c in cmd) if isinstance(cmd, list) else str(cmd or "")


def _hashes(items: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        if isinstance(item, Mapping) and item.get("path"):
            # The mirror keeps the hash value under "md5" whatever its name ("hash": md5, etag, ...).
            found.setdefault(str(item["path"]), str(item.get("md5") or ""))
    return found


def _hash_changes(a: Any, b: Any) -> list[HashChange]:
    left, right = _hashes(a), _hashes(b)
    return [
        HashChange(path, left.get(path), right.get(path))
        for path in sorted(set(left) | set(right))
        if left.get(path) != right.get(path)
    ]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted keys (``train.max_depth``), as DVC names them in ``dvc.yaml``."""
    if not isinstance(value, Mapping):
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            flat.update(_flatten(item, name))
        else:
            flat[name] = item
    return flat


def _param_changes(a: Any, b: Any) -> list[ParamChange]:
    left, right = _mapping(a), _mapping(b)
    changes = []
    for file in sorted(set(left) | set(right)):
        lv = _flatten(left.get(file))
        rv = _flatten(right.get(file))
        for key in sorted(set(lv) | set(rv)):
            if key not in lv or key not in rv or lv[key] != rv[key]:
                changes.append(ParamChange(file, key, lv.get(key), rv.get(key), key in lv, key in rv))
    return changes


def diff_stages(a: Mapping[str, Any], b: Mapping[str, Any]) -> StagesDiff:
    """The stages of two snapshots (``Snapshot.stages``) compared by address: command, dependency and output
    hashes, parameter values. Stages only on one side are ``added``/``removed``; unchanged ones are named only."""
    changed: list[StageDiff] = []
    same: list[str] = []
    for address in sorted(set(a) | set(b)):
        left, right = a.get(address), b.get(address)
        if left is None or right is None:
            status = ADDED if left is None else REMOVED
            changed.append(StageDiff(address, status, cmd_a=_cmd(left or {}), cmd_b=_cmd(right or {})))
            continue
        diff = StageDiff(
            address,
            CHANGED,
            cmd_a=_cmd(left),
            cmd_b=_cmd(right),
            deps=_hash_changes(left.get("deps"), right.get("deps")),
            outs=_hash_changes(left.get("outs"), right.get("outs")),
            params=_param_changes(left.get("params"), right.get("params")),
        )
        if diff.cmd_changed or diff.deps or diff.outs or diff.params:
            changed.append(diff)
        else:
            same.append(address)
    return StagesDiff(changed=changed, same=same)
