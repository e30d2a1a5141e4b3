"""Celery is "just another interface": inline without Redis, a real worker process with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection

from apps.core.models import SyncRun
from apps.core.tasks import sync_all_sources
from apps.mlflow_sync.models import MlflowSource, Run
from apps.mlflow_sync.services import mlflow_source_add
from apps.mlflow_sync.tasks import sync_mlflow_source
from tests.conftest import ROOT, MlflowStore

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="runs with REDIS_URL (the PostgreSQL + Redis CI leg)")


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="inline tasks are the embedded default")
@pytest.mark.django_db
def test_without_redis_a_task_runs_inline(mlflow_store: MlflowStore) -> None:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    sync_mlflow_source.delay(source.pk)
    assert SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED
    assert Run.objects.filter(source=source).exists()


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[None]:
    """A real `celery worker` process on a queue of its own, pointed at the test database."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = current_app.conf.task_default_queue
    current_app.conf.task_default_queue = queue
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "lineage_site.settings",
        "DVC_REPOS_DIR": str(tmp_path / "clones"),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "lineage_site",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
        yield
    finally:
        current_app.conf.task_default_queue = previous
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for(kind_done: callable, what: str, seconds: float = 120) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + seconds
    while not kind_done():
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not finish {what} in {seconds} s")
        time.sleep(0.5)


@needs_redis
@pytest.mark.worker
def test_sync_now_is_run_by_a_real_worker(celery_worker: None, staff_client, mlflow_store: MlflowStore) -> None:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    staff_client.post("/syncs/now/", {"kind": "mlflow", "source_id": source.pk})
    run = SyncRun.objects.get()
    _wait_for(lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).exists(), "the sync")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Run.objects.filter(source=source).count() == 12


@needs_redis
@pytest.mark.worker
def test_the_periodic_job_syncs_every_source_in_the_worker(celery_worker: None, mlflow_store: MlflowStore) -> None:
    a = mlflow_source_add(name="a", tracking_uri=mlflow_store.uri)[0]
    b = MlflowSource.objects.create(name="b", tracking_uri=mlflow_store.uri)
    sync_all_sources.delay()
    _wait_for(lambda: SyncRun.objects.filter(status="succeeded").count() == 2, "both syncs")
    assert set(SyncRun.objects.values_list("source_id", flat=True)) == {a.pk, b.pk}
    assert SyncRun.objects.get(source_id=a.pk).trigger == SyncRun.Trigger.SCHEDULE
