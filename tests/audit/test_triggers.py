"""Append-only, enforced by the database: raw UPDATE, DELETE and TRUNCATE are refused by triggers that exist after
``migrate``; an edit forced past them (with the escape hatch, or with the triggers dropped) is found by
``verify_audit_log``, which names the first bad sequence number."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.audit import canonical, triggers
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record


def _events(n: int) -> list[AuditEvent]:
    return [
        audit_record(action="test.event", target_type="thing", target_id=i, target_text=f"thing {i}", reason="r")
        for i in range(1, n + 1)
    ]


def _sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def _verify(*anchors: str) -> tuple[int, str]:
    import io

    err = io.StringIO()
    args = [a for anchor in anchors for a in ("--anchor", anchor)]
    try:
        call_command("verify_audit_log", *args, stdout=io.StringIO(), stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), err.getvalue()
    return 0, err.getvalue()


@pytest.mark.django_db
def test_the_triggers_exist_after_migrate() -> None:
    assert triggers.missing() == []
    call_command("migrate", verbosity=0)
    assert triggers.missing() == []


@pytest.mark.django_db
def test_a_raw_update_is_refused() -> None:
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("UPDATE audit_auditevent SET reason = 'rewritten' WHERE seq = 1")
    assert AuditEvent.objects.get(seq=1).reason == "r"


@pytest.mark.django_db
def test_a_raw_delete_is_refused() -> None:
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("DELETE FROM audit_auditevent WHERE seq = 2")
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_the_orm_cannot_delete_an_event_either() -> None:
    (event,) = _events(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=event.seq).delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
@pytest.mark.django_db
def test_truncate_is_refused_on_postgresql() -> None:
    _events(1)
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own insert would otherwise leave a deferred FK check pending
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_an_edit_forced_past_the_triggers_is_named_by_its_sequence_number() -> None:
    _events(5)
    with triggers.audit_maintenance(reason="test: forge an event"):
        _sql("UPDATE audit_auditevent SET reason = 'nothing to see' WHERE seq = 3")
    code, err = _verify()
    assert code == 1
    assert "BROKEN at sequence number 3" in err and "does not match its hash" in err


@pytest.mark.django_db
def test_a_deleted_event_is_named() -> None:
    _events(5)
    with triggers.audit_maintenance(reason="test: remove an event"):
        _sql("DELETE FROM audit_auditevent WHERE seq = 2")
    code, err = _verify()
    assert code == 1 and "BROKEN at sequence number 2" in err and "missing" in err


@pytest.mark.django_db
def test_reordered_events_are_named() -> None:
    _events(5)
    with triggers.audit_maintenance(reason="test: swap two events"):
        _sql("UPDATE audit_auditevent SET seq = -1 WHERE seq = 3")
        _sql("UPDATE audit_auditevent SET seq = 3 WHERE seq = 4")
        _sql("UPDATE audit_auditevent SET seq = 4 WHERE seq = -1")
    code, err = _verify()
    assert code == 1 and "BROKEN at sequence number 3" in err


@pytest.mark.django_db
def test_a_truncated_tail_is_caught_by_an_anchor() -> None:
    events = _events(5)
    anchor = f"{events[-1].seq}:{events[-1].hash}"
    with triggers.audit_maintenance(reason="test: drop the newest events"):
        _sql("DELETE FROM audit_auditevent WHERE seq >= 4")
    assert _verify()[0] == 0  # a shorter chain is still a chain…
    code, err = _verify(anchor)
    assert code == 1 and "BROKEN at sequence number 5" in err and "ends at 3" in err  # …but not the one anchored


@pytest.mark.django_db
def test_a_chain_rewritten_consistently_is_caught_by_an_anchor() -> None:
    events = _events(4)
    anchor = f"{events[-1].seq}:{events[-1].hash}"
    prev = events[0].prev_hash
    # Someone with database access changes event 2 and re-computes every later hash, as the chain allows.
    with triggers.audit_maintenance(reason="test: rewrite the chain"):
        _sql("UPDATE audit_auditevent SET reason = 'rewritten' WHERE seq = 2")
        for event in AuditEvent.objects.order_by("seq"):
            fields = {
                "seq": event.seq, "at": event.at, "actor_id": event.actor_id, "actor": event.actor_name,
                "action": event.action, "target_type": event.target_type, "target_id": event.target_id,
                "target_text": event.target_text, "before": event.before, "after": event.after,
                "reason": event.reason, "request_id": event.request_id,
            }  # fmt: skip
            digest = canonical.chain_hash(prev, canonical.canonical(fields))
            _sql("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s", [prev, digest, event.seq])
            prev = digest
    assert _verify()[0] == 0
    code, err = _verify(anchor)
    assert code == 1 and "BROKEN at sequence number 4" in err and "anchor" in err


@pytest.mark.django_db
def test_missing_triggers_fail_verification() -> None:
    _events(1)
    triggers.uninstall(connection)
    try:
        code, err = _verify()
        assert code == 1 and "triggers" in err and "missing" in err
    finally:
        triggers.install(connection)
    assert triggers.missing() == []
