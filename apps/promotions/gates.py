"""The promotion gates as pure functions over plain data: each returns a ``GateResult`` that is ``ok``, ``failed`` or
``unverifiable`` (it could not be checked: never taken as ``ok``). A promotion passes only when every configured
gate is ``ok``."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

OK = "ok"
FAILED = "failed"
UNVERIFIABLE = "unverifiable"
BLOCKING_VERDICTS = ("conflict", "gaps")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class GateResult:
    gate: str  # "verdict" | "metric" | "retrievable"
    label: str  # what the gate asks, e.g. "test_auc >= 0.75"
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"gate": self.gate, "label": self.label, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class DataCheck:
    """One data version the run was trained on, and whether a configured remote holds it."""

    path: str
    md5: str
    status: str  # "present" | "missing" | "unverifiable"
    detail: str


def verdict_gate(verdict: str, problems: Iterable[str]) -> GateResult:
    """``ok`` unless the lineage verdict is ``conflict`` or ``gaps``."""
    label = "lineage verdict is not conflict or gaps"
    if verdict in BLOCKING_VERDICTS:
        why = "; ".join(problems) or "no detail"
        return GateResult("verdict", label, FAILED, f"verdict {verdict}: {why}")
    return GateResult("verdict", label, OK, f"verdict {verdict}")


def metric_gate(metrics: dict[str, Any], gate: dict[str, Any]) -> GateResult:
    """``ok`` when the run's latest value of ``gate["metric"]`` compares true with ``gate["value"]``; ``failed`` when
    it does not, or when the run did not log the metric (or logged NaN)."""
    metric, op, threshold = str(gate["metric"]), str(gate["op"]), float(gate["value"])
    label = f"{metric} {op} {gate['value']}"
    if metric not in metrics:
        return GateResult("metric", label, FAILED, f"the run logged no metric {metric}")
    value = metrics[metric]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return GateResult("metric", label, FAILED, f"{metric} is NaN")
    passed = _OPS[op](float(value), threshold)
    return GateResult("metric", label, OK if passed else FAILED, f"{metric} = {float(value):.6g}")


def retrievable_gate(checks: list[DataCheck]) -> GateResult:
    """``ok`` when a configured remote holds every data version; ``failed`` when one is missing from every
    configured remote; ``unverifiable`` when one could not be checked, or no data version is known at all."""
    label = "every data version can be pulled from a configured DVC remote"
    if not checks:
        return GateResult("retrievable", label, UNVERIFIABLE, "no data version is linked to the run")
    missing = [c for c in checks if c.status == "missing"]
    unsure = [c for c in checks if c.status not in ("present", "missing")]
    if missing:
        names = ", ".join(f"{c.path} ({c.md5[:10]}): {c.detail}" for c in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        return GateResult("retrievable", label, FAILED, f"missing: {names}{more}")
    if unsure:
        names = ", ".join(f"{c.path}: {c.detail}" for c in unsure[:5])
        more = f" and {len(unsure) - 5} more" if len(unsure) > 5 else ""
        return GateResult("retrievable", label, UNVERIFIABLE, f"cannot check {names}{more}")
    return GateResult(
        "retrievable", label, OK, f"all {len(checks)} data version{'s' if len(checks) != 1 else ''} present"
    )


def passed(results: Iterable[GateResult | dict[str, Any]]) -> bool:
    """Whether every gate is ``ok`` (no gate: passed)."""
    return all((r.status if isinstance(r, GateResult) else r.get("status")) == OK for r in results)
