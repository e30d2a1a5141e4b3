"""Links out to the git web UI: built only from the web URL an admin configured on the DVC source, never from the
repository's location, its remotes or anything read from git or DVC."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core import services as core_services
from apps.dvc_sync.models import DvcSource
from apps.dvc_sync.services import dvc_source_add
from tests.dvc_sync.test_pages import DemoRepo, shared_demo_repo, sync

BASE = "https://git.example.com/org/repo"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _source(web_url: str = BASE) -> DvcSource:
    return DvcSource(name="s", location="/tmp/repo", web_url=web_url)


@pytest.fixture
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return shared_demo_repo(tmp_path_factory)


def _synced(demo_repo: DemoRepo, settings, tmp_path: Path, web_url: str) -> DvcSource:
    settings.DVC_REPOS_DIR = tmp_path / "repos"
    source, _ = dvc_source_add(name="demo", location=str(demo_repo.path))
    source.web_url = web_url
    core_services.source_check(source)
    source.save()
    sync(source)
    return source


def _commit_page(client: Client, demo_repo: DemoRepo) -> str:
    resp = client.get(f"/data/demo/commit/{demo_repo.sha['Raw data v3, retrained']}/")
    assert resp.status_code == 200
    return resp.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://git.example.com/org/repo",
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo",
        "../org/repo",
        "https://ci:token@git.example.com/org/repo",
        "https://git.example.com\\@evil.example/org/repo",
        'https://git.example.com/org/repo"onmouseover="alert(1)',
    ],
)
def test_a_source_with_a_bad_web_url_is_refused(db: None, url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _source(url).full_clean()
    assert "web_url" in exc.value.message_dict


@pytest.mark.parametrize(
    "url", ["https://github.com/org/repo", "http://gitea:3000/org/repo/", "https://[::1]:8443/org/repo"]
)
def test_a_source_with_an_http_web_url_is_accepted(db: None, url: str) -> None:
    _source(url).full_clean()


def test_the_commit_url_takes_only_a_hex_sha() -> None:
    source = _source(BASE + "/")
    assert source.commit_web_url(SHA) == f"{BASE}/commit/{SHA}"
    assert source.commit_web_url(SHA[:7]) == f"{BASE}/commit/{SHA[:7]}"
    for bad in ("", SHA[:6], "HEAD", "../../evil", f"{SHA}/../x", "g" * 40, "a" * 65):
        assert source.commit_web_url(bad) == "", bad
    assert source.web_host == "git.example.com"


def test_the_file_url_quotes_each_segment_and_stays_in_the_tree() -> None:
    source = _source()
    url = source.file_web_url(SHA, 'data/<img src="x" onerror=alert(1)>/a b?#.csv')
    assert url == f"{BASE}/blob/{SHA}/data/%3Cimg%20src%3D%22x%22%20onerror%3Dalert%281%29%3E/a%20b%3F%23.csv"
    for bad in ("../secrets", "data/../../x", "data//x", "./x", ""):
        assert source.file_web_url(SHA, bad) == "", bad
    assert source.file_web_url("main", "data/raw.csv") == ""


def test_no_url_is_built_without_a_web_url_or_from_an_unvalidated_one() -> None:
    assert _source("").commit_web_url(SHA) == "" and _source("").web_host == ""
    assert _source("javascript:alert(1)//").commit_web_url(SHA) == ""
    assert _source("javascript:alert(1)//").file_web_url(SHA, "a.csv") == ""


def test_the_commit_page_links_to_the_commit_in_the_web_ui(
    viewer_client: Client, db: None, settings, tmp_path: Path, demo_repo: DemoRepo
) -> None:
    _synced(demo_repo, settings, tmp_path, BASE)
    sha = demo_repo.sha["Raw data v3, retrained"]
    body = _commit_page(viewer_client, demo_repo)
    assert (
        f'<a class="btn btn-small" href="{BASE}/commit/{sha}" target="_blank" rel="noopener noreferrer">'
        "View commit in git.example.com ↗</a>"
    ) in body


def test_the_commit_page_has_no_web_link_when_none_is_configured(
    viewer_client: Client, db: None, settings, tmp_path: Path, demo_repo: DemoRepo
) -> None:
    _synced(demo_repo, settings, tmp_path, "")
    body = _commit_page(viewer_client, demo_repo)
    assert "View commit in" not in body and "/commit/" + demo_repo.sha["Raw data v3, retrained"] not in body


def test_no_link_leads_to_the_location_or_a_remote(
    viewer_client: Client, db: None, settings, tmp_path: Path, demo_repo: DemoRepo
) -> None:
    _synced(demo_repo, settings, tmp_path, BASE)
    overview = viewer_client.get("/data/demo/").content.decode()
    assert "s3://lineage-bucket/dvc-store" in overview  # the remote is shown, as text
    for page in (_commit_page(viewer_client, demo_repo), overview):
        outside = [h for h in re.findall(r'href="([^"]*)"', page) if not h.startswith(("/", "?", "#"))]
        assert outside and all(h.startswith(BASE + "/commit/") or h == BASE for h in outside), outside


def test_the_commit_list_links_each_commit_with_flat_queries(
    viewer_client: Client, db: None, settings, tmp_path: Path, demo_repo: DemoRepo
) -> None:
    source = _synced(demo_repo, settings, tmp_path, "")
    with CaptureQueriesContext(connection) as without:
        assert "git.example.com" not in viewer_client.get("/data/demo/").content.decode()
    DvcSource.objects.filter(pk=source.pk).update(web_url=BASE)
    with CaptureQueriesContext(connection) as with_links:
        body = viewer_client.get("/data/demo/").content.decode()
    assert len(with_links) == len(without)
    for sha in demo_repo.sha.values():
        assert f'href="{BASE}/commit/{sha}"' in body
    assert 'aria-label="View commit in git.example.com"' in body


# The admin's form of a DVC source carries the inline of its data-check remotes; none here.
NO_REMOTES = {"check_remotes-TOTAL_FORMS": "0", "check_remotes-INITIAL_FORMS": "0"}


def test_the_admin_form_saves_a_web_url_and_refuses_one_with_credentials(
    db: None, settings, tmp_path: Path, demo_repo: DemoRepo
) -> None:
    settings.DVC_REPOS_DIR = tmp_path / "repos"
    admin = User.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(admin)
    source, _ = dvc_source_add(name="demo", location=str(demo_repo.path))
    url = f"/admin/dvc_sync/dvcsource/{source.pk}/change/"
    form = {"name": "demo", "location": str(demo_repo.path), "root": "", "refs": "", "enabled": "on", **NO_REMOTES}
    resp = client.post(url, {**form, "web_url": "https://ci:token@git.example.com/org/repo"})
    assert resp.status_code == 200 and "Put no user name or password in the URL" in resp.content.decode()
    assert client.post(url, {**form, "web_url": BASE}).status_code == 302
    source.refresh_from_db()
    assert source.web_url == BASE
