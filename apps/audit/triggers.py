"""The database triggers that make ``audit_auditevent`` append-only, and the one documented way past them.

SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers raise unless the table ``audit_maintenance`` holds a row.
PostgreSQL: a row trigger refuses UPDATE and DELETE and a statement trigger TRUNCATE, unless the session setting
``lineage.audit_maintenance`` is ``on``.

The escape hatch (``audit_maintenance()``) exists for one caller: the test suite, whose transactional tests empty
every table between tests with Django's ``flush``. The product never uses it. Anyone who can write to the database
can open it, or drop the triggers, which is why the chain head is also anchored outside the database and
``verify_audit_log`` re-computes the chain.

SQLite rebuilds a table for most ``ALTER`` operations, dropping its triggers: a later migration that alters
``AuditEvent`` must call ``install`` again (``tests/audit/test_triggers.py`` checks that they exist after
``migrate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.utils import timezone

TABLE = "audit_auditevent"
SETTING = "lineage.audit_maintenance"
SQLITE_TRIGGERS = ("audit_auditevent_no_update", "audit_auditevent_no_delete")
POSTGRES_TRIGGERS = ("audit_auditevent_append_only", "audit_auditevent_no_truncate")

_SQLITE = [
    "CREATE TABLE IF NOT EXISTS audit_maintenance (reason TEXT NOT NULL, started_at TEXT NOT NULL)",
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON {TABLE}
        WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE of audit_auditevent is refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON {TABLE}
        WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE from audit_auditevent is refused'); END""",
]

_POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION audit_auditevent_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF coalesce(current_setting('{SETTING}', true), '') = 'on' THEN
                IF TG_OP = 'UPDATE' THEN RETURN NEW; END IF;
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit events are append-only: % of {TABLE} is refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_append_only ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse()""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_refuse()""",
]


def install(connection: Any) -> None:
    """Create (or re-create) the triggers on ``connection``'s database. Idempotent."""
    statements = _POSTGRES if connection.vendor == "postgresql" else _SQLITE
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    """Drop the triggers (the reverse of the migration that made them)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in POSTGRES_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
            cursor.execute("DROP FUNCTION IF EXISTS audit_auditevent_refuse()")
        else:
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def missing(using: str = "default") -> list[str]:
    """The names of the append-only triggers that do not exist on the database (none: all in place)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
                [TABLE],
            )
            expected = POSTGRES_TRIGGERS
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
            expected = SQLITE_TRIGGERS
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]


@contextmanager
def audit_maintenance(*, reason: str, using: str = "default") -> Iterator[None]:
    """Let UPDATE, DELETE and TRUNCATE of audit events through on this connection while the block runs. Only the
    test suite's flush uses it (``tests/conftest.py``); see the module's docstring."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, 'on', false)", [SETTING])
        else:
            cursor.execute(
                "INSERT INTO audit_maintenance (reason, started_at) VALUES (%s, %s)",
                [reason, timezone.now().isoformat()],
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config(%s, '', false)", [SETTING])
            else:
                cursor.execute("DELETE FROM audit_maintenance")
