"""DVC sources: added from the command line and the admin, read only through the product's own clone, followed
refs honoured, and synced by every entry point (Sync now + scheduler, sync_all, the Celery task)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.dvc_sync.models import Commit, DvcSource, Ref
from apps.dvc_sync.services import dvc_clone_dir
from apps.dvc_sync.tasks import sync_dvc_source
from tests.dvc_sync.repos import run
from tests.dvc_sync.test_bad_input import GOOD_DVC, _commit, _project, _write

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(tmp_path: Path, settings: pytest.FixtureRequest) -> Path:
    settings.DVC_REPOS_DIR = tmp_path / "clones"  # type: ignore[attr-defined]
    path = tmp_path / "repo"
    _project(path)
    run(["git", "checkout", "-q", "-b", "experiment"], path)
    _write(path, {"data/raw.csv.dvc": GOOD_DVC.format(md5="e" * 32)})
    _commit(path, "an experiment")
    run(["git", "checkout", "-q", "main"], path)
    run(["git", "tag", "v1"], path)
    return path


def test_add_source_takes_a_root_and_refs(repo: Path) -> None:
    out = io.StringIO()
    call_command("add_source", "dvc", "churn", str(repo), "--ref", "main", "--ref", "v*", stdout=out)
    source = DvcSource.objects.get(name="churn")
    assert "Added dvc source 'churn'" in out.getvalue()
    assert (source.location, source.refs, source.root) == (str(repo), "main v*", "")


def test_only_the_followed_refs_are_mirrored(repo: Path) -> None:
    call_command("add_source", "dvc", "churn", str(repo), "--ref", "main", stdout=io.StringIO())
    source = DvcSource.objects.get()
    core_services.sync_source(kind="dvc", source_id=source.pk)
    assert list(Ref.objects.filter(source=source).values_list("kind", "name")) == [("branch", "main")]
    assert not Commit.objects.filter(source=source, message="an experiment").exists()


def test_every_branch_and_tag_is_followed_by_default(repo: Path) -> None:
    call_command("add_source", "dvc", "churn", str(repo), stdout=io.StringIO())
    source = DvcSource.objects.get()
    core_services.sync_source(kind="dvc", source_id=source.pk)
    assert set(Ref.objects.filter(source=source).values_list("kind", "name")) == {
        ("branch", "main"),
        ("branch", "experiment"),
        ("tag", "v1"),
    }
    assert Commit.objects.filter(source=source, message="an experiment").exists()


def test_the_users_work_tree_is_never_touched(repo: Path) -> None:
    _write(repo, {"data/raw.csv.dvc": "uncommitted edit\n"})
    status = run(["git", "status", "--porcelain"], repo)
    head = run(["git", "rev-parse", "HEAD"], repo)
    call_command("add_source", "dvc", "churn", str(repo), stdout=io.StringIO())
    source = DvcSource.objects.get()
    core_services.sync_source(kind="dvc", source_id=source.pk)
    assert run(["git", "status", "--porcelain"], repo) == status
    assert run(["git", "rev-parse", "HEAD"], repo) == head
    assert (dvc_clone_dir(source) / ".git").is_dir()
    main = Commit.objects.get(source=source, sha=head.strip())
    assert "uncommitted edit" not in str(main.snapshot.problems)


def test_the_admin_refuses_a_path_that_is_not_a_git_repository(admin_client: Client, tmp_path: Path) -> None:
    resp = admin_client.post(
        "/admin/dvc_sync/dvcsource/add/",
        {
            "name": "plain",
            "location": str(tmp_path),
            "root": "",
            "refs": "",
            "enabled": "on",
            "check_remotes-TOTAL_FORMS": "0",
            "check_remotes-INITIAL_FORMS": "0",
        },
    )
    assert resp.status_code == 200
    assert "is not a git repository" in resp.content.decode()
    assert not DvcSource.objects.exists()


def test_sync_now_queues_and_the_scheduler_runs_it(staff_client: Client, repo: Path) -> None:
    call_command("add_source", "dvc", "churn", str(repo), stdout=io.StringIO())
    source = DvcSource.objects.get()
    resp = staff_client.post("/syncs/now/", {"kind": "dvc", "source_id": source.pk})
    assert resp.status_code == 302
    queued = SyncRun.objects.get()
    assert (queued.kind, queued.status) == ("dvc", SyncRun.Status.QUEUED)
    core_services.sync_run_queued()
    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED
    assert Commit.objects.filter(source=source).count() == 2


def test_the_task_and_sync_all_run_the_same_sync(repo: Path) -> None:
    call_command("add_source", "dvc", "churn", str(repo), stdout=io.StringIO())
    source = DvcSource.objects.get()
    run_id = sync_dvc_source(source.pk)
    assert SyncRun.objects.get(pk=run_id).status == SyncRun.Status.SUCCEEDED
    out = io.StringIO()
    call_command("sync_all", stdout=out)
    assert "churn" in out.getvalue()
    assert SyncRun.objects.filter(kind="dvc", status=SyncRun.Status.SUCCEEDED).count() == 2
