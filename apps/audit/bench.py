"""The audit log's benchmark: ``verify_audit_log`` over a chain of a million events (target ≤ 30 s). The events are
appended in bulk with the same canonical form and hash as ``audit_record`` (one ``audit_record`` per event would
take most of an hour), continuing the chain the database already holds; the verification is the command's own."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import canonical, selectors
from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.core.bench import Figure, format_figures, timed

VERIFY_TARGET_S = 30.0
_COLUMNS = (
    "seq", "at", "actor_id", "actor_name", "action", "target_type", "target_id", "target_text", "before", "after",
    "reason", "request_id", "prev_hash", "hash",
)  # fmt: skip


def _event(rng: random.Random, n: int) -> dict[str, Any]:
    """A plausible event: mostly sync ends with counts, some observed registry changes and promotions."""
    kind = rng.random()
    if kind < 0.7:
        return {"actor": "scheduler", "action": "sync.succeeded", "target_type": "sync", "target_id": str(n),
                "target_text": "mlflow source prod", "before": None, "reason": "",
                "after": {"kind": "mlflow", "source": "prod", "trigger": "schedule", "full": False,
                          "counts": {"runs_written": rng.randint(0, 500), "experiments": 5, "models": 10},
                          "message": f"{rng.randint(0, 500)} runs written in {rng.random() * 9:.1f} s"}}  # fmt: skip
    if kind < 0.9:
        version = rng.randint(1, 200)
        return {"actor": "sync", "action": "registry.observed", "target_type": "registered_model",
                "target_id": str(rng.randint(1, 10)), "target_text": "churn-predictor", "before": None, "reason": "",
                "after": {"source": "prod", "field": "alias", "name": "production", "version": version,
                          "before": str(version - 1), "after": str(version), "change": f"@production: v{version - 1} → v{version}",
                          "observed_between": ["2026-12-01T10:00:00+00:00", "2026-12-01T10:05:00+00:00"]}}  # fmt: skip
    return {"actor": "abby", "action": "promotion.confirmed", "target_type": "promotion", "target_id": str(n),
            "target_text": "churn-predictor v7 → Production", "reason": "better AUC on the Q3 holdout",
            "before": {"alias": "production", "alias_version": 6, "stage_versions": [6]},
            "after": {"status": "confirmed", "mlflow": {"alias_version": 7, "version_stage": "Production"},
                      "test_roc_auc": rng.random()}}  # fmt: skip


def append_events(count: int, *, batch: int = 20_000, write: Callable[[str], Any] = print) -> float:
    """Append ``count`` chained events after the current head, in bulk; returns the seconds taken."""
    started = time.perf_counter()
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash", "at").first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS_HASH)
    moment = (head[2] if head else timezone.now() - timedelta(days=365)).replace(microsecond=0)
    rng = random.Random(20261207)
    qn = connection.ops.quote_name
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    values = ", ".join(f"%s{cast}" if c in ("before", "after") else "%s" for c in _COLUMNS)
    sql = f"INSERT INTO {qn(AuditEvent._meta.db_table)} ({', '.join(qn(c) for c in _COLUMNS)}) VALUES ({values})"  # noqa: S608
    done = 0
    while done < count:
        rows = []
        for _ in range(min(batch, count - done)):
            seq += 1
            moment += timedelta(seconds=30, microseconds=rng.randint(0, 999_999))
            event = _event(rng, seq)
            fields = {
                "seq": seq, "at": moment, "actor_id": None, "actor": event["actor"], "action": event["action"],
                "target_type": event["target_type"], "target_id": event["target_id"],
                "target_text": event["target_text"], "before": canonical.plain(event["before"]),
                "after": canonical.plain(event["after"]), "reason": event["reason"], "request_id": "",
            }  # fmt: skip
            digest = canonical.chain_hash(prev, canonical.canonical(fields))
            rows.append((
                seq, connection.ops.adapt_datetimefield_value(moment), None, fields["actor"], fields["action"],
                fields["target_type"], fields["target_id"], fields["target_text"],
                None if fields["before"] is None else json.dumps(fields["before"]),
                None if fields["after"] is None else json.dumps(fields["after"]),
                fields["reason"], "", prev, digest,
            ))  # fmt: skip
            prev = digest
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        done += len(rows)
        write(f"  {done:,} of {count:,} events appended")
    return time.perf_counter() - started


def run_benchmark(*, events: int, folder: Path, write: Callable[[str], Any] = print) -> dict[str, Any]:
    """Make sure the log holds at least ``events`` events, verify the whole chain, print and save the figures."""
    folder.mkdir(parents=True, exist_ok=True)
    have = AuditEvent.objects.count()
    append_s = 0.0
    if have < events:
        write(f"Appending {events - have:,} events to the {have:,} the log holds…")
        append_s = append_events(events - have, write=write)
    total = AuditEvent.objects.count()
    write(f"Verifying the chain of {total:,} events…")
    seconds, report = timed(lambda: selectors.chain_verify())
    if not report.ok:
        write(f"The chain does not verify: {report.bad_seq}: {report.problem}")
    figures = [
        Figure("audit_verify", f"verify_audit_log, {total:,} events", seconds=seconds, value=seconds, unit="s",
               target=VERIFY_TARGET_S, note=f"{total / seconds:,.0f} events/s; chain {'OK' if report.ok else 'BROKEN'}"),
    ]  # fmt: skip
    if append_s:
        figures.append(
            Figure(
                "audit_append_bulk",
                f"appending {events - have:,} events in bulk",
                seconds=append_s,
                note="not audit_record: bench data only",
            )  # fmt: skip
        )
    load = os.getloadavg()
    results = {
        "events": total,
        "database": str(settings.DATABASES["default"]["NAME"]),
        "vendor": connection.vendor,
        "measured_at": timezone.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": round(load[0], 2),
        "chain_ok": report.ok,
        "figures": [{**asdict(f), "passed": f.passed} for f in figures],
    }
    (folder / "audit-results.json").write_text(json.dumps(results, indent=2) + "\n")
    for line in format_figures(figures, title=[f"Audit log benchmark ({connection.vendor}, load {load[0]:.2f})"]):
        write(line)
    return results
