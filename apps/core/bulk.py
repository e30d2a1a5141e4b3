"""Bulk writes below the ORM, for the few places whose row counts make model instances the cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in ``columns`` order, already adapted for the database) into ``model``'s table in
    one ``executemany``; returns nothing and refuses nothing (an empty ``rows`` writes nothing).

    Why not ``bulk_create``: a sync or a join writes hundreds of thousands of rows (every path a snapshot pins,
    every data version a run links), and building a model instance per row cost more than the work itself. No
    ``save()`` logic, defaults or signals run; the caller passes every column it needs.
    """
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)
