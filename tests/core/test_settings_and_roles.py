"""Settings from the environment, roles from migrations, login everywhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from tests.conftest import ROOT


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "lineage_site.settings", **env},
    )


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DATABASE_URL", "mysql://x@y/z"),
        ("REDIS_URL", "http://nope"),
        ("SYNC_INTERVAL_SECONDS", "often"),
        ("SECRET_KEY", "short"),
        ("DEBUG", "maybe"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(var: str, value: str) -> None:
    result = _start({var: value})
    assert result.returncode != 0
    assert var in result.stderr


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(db: None) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert connection.transaction_mode == "IMMEDIATE"


def test_the_roles_exist_with_cumulative_permissions(db: None) -> None:
    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert {"viewer", "auditor", "approver"} <= set(perms)
    assert {"view_run", "view_registeredmodel", "view_syncrun"} <= perms["viewer"]
    assert perms["viewer"] <= perms["auditor"] <= perms["approver"]


@pytest.mark.parametrize(
    "url", ["/", "/search/?q=x", "/syncs/", "/mlflow/runs/", "/mlflow/models/", "/mlflow/experiments/"]
)
def test_every_page_requires_login(client, db: None, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")


def test_a_user_without_a_role_cannot_see_runs(nobody) -> None:
    from django.test import Client

    client = Client()
    client.force_login(nobody)
    assert client.get("/mlflow/runs/").status_code == 403
