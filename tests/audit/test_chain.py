"""The hash chain: every append links to the one before, hashes are computed from what the database stores, and
concurrent appends never fork the chain."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from apps.audit import canonical, selectors
from apps.audit.context import Actor
from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.audit.services import audit_record

HOSTILE = '<script>alert("x")</script>&<b>bold</b> \x00 naïve ☃ \ud800 "quotes" \\ back'


def _record(n: int = 1, **extra: object) -> list[AuditEvent]:
    return [
        audit_record(action="test.event", target_type="thing", target_id=i, target_text=f"thing {i}", **extra)  # type: ignore[arg-type]
        for i in range(n)
    ]


@pytest.mark.django_db
def test_it_chains_each_event_to_the_one_before() -> None:
    first, second, third = _record(3)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert selectors.chain_verify().ok


@pytest.mark.django_db
def test_the_hash_is_computed_from_the_stored_values(admin_user) -> None:  # type: ignore[no-untyped-def]
    event = audit_record(
        action="test.hostile",
        target_type="thing",
        target_id=HOSTILE,
        target_text=HOSTILE * 20,
        actor=Actor.of(admin_user),
        before={"big": 1e300, "tiny": 1e-300, "neg0": -0.0, "nan": float("nan"), "nested": [{"b": 2, "a": [1, 2.5]}]},
        after={"text": HOSTILE, "int": 2**70, "float": 0.1 + 0.2, "set": {3, 1}, "unicode": "Ωmega"},
        reason=HOSTILE,
    )
    stored = AuditEvent.objects.get(seq=event.seq)
    assert "\x00" not in stored.target_id and len(stored.target_text) == 500
    assert stored.before["big"] == int(1e300) and stored.before["nan"] == "nan"
    assert stored.after["text"].startswith('<script>alert("x")</script>')
    fields = {
        "seq": stored.seq, "at": stored.at, "actor_id": stored.actor_id, "actor": stored.actor_name,
        "action": stored.action, "target_type": stored.target_type, "target_id": stored.target_id,
        "target_text": stored.target_text, "before": stored.before, "after": stored.after, "reason": stored.reason,
        "request_id": stored.request_id,
    }  # fmt: skip
    assert canonical.chain_hash(stored.prev_hash, canonical.canonical(fields)) == stored.hash
    report = selectors.chain_verify()
    assert report.ok, report.problem
    assert (report.head_seq, report.head_hash) == (event.seq, event.hash)


@pytest.mark.django_db
def test_an_event_rolls_back_with_the_change_it_records() -> None:
    _record(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(1)
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 1
    assert _record(1)[0].seq == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain() -> None:
    errors: list[BaseException] = []

    def append() -> None:
        try:
            for _ in range(15):
                _record(1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 61))
    assert selectors.chain_verify().ok


@pytest.mark.django_db
def test_verify_audit_log_prints_the_head(capsys: pytest.CaptureFixture[str]) -> None:
    last = _record(3)[-1]
    call_command("verify_audit_log", "--anchor", f"{last.seq}:{last.hash}")
    out = capsys.readouterr().out
    assert "Audit log OK: 3 events verified" in out
    assert f"head 3:{last.hash}" in out and "anchors 3:" in out


@pytest.mark.django_db
def test_verify_audit_log_refuses_a_malformed_anchor() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="SEQ:HASH"):
        call_command("verify_audit_log", "--anchor", "3-abc")
