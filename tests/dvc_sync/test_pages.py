"""The DVC pages through the real test client, over a real git + DVC repository (built once with the real ``git``
and ``dvc`` commands) synced into the mirror by the real sync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.dvc_sync.models import Commit, DataVersion, DvcSource, Pin, PipelineGraph, Ref, Snapshot
from apps.dvc_sync.services import dvc_source_add
from tests.conftest import _user

DVC = str(Path(sys.executable).parent / "dvc")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT_PATH = f"data/{SCRIPT}/evil.csv"
IMG_PATH = f"data/{IMG}.csv"
HOSTILE_MESSAGE = f"Add {SCRIPT} and {IMG} data"

DVC_YAML = """\
stages:
  prepare:
    cmd: mkdir -p data/prepared && cp data/raw.csv data/prepared/train.csv && cp data/raw.csv data/prepared/test.csv
    deps:
      - data/raw.csv
    params:
      - prepare.split
    outs:
      - data/prepared
  train:
    cmd: cat data/prepared/train.csv data/labels.csv > model.pkl
    deps:
      - data/prepared
      - data/labels.csv
    params:
      - train.lr
    outs:
      - model.pkl
  evaluate:
    cmd: echo "{}" > scores.json
    deps:
      - model.pkl
      - data/prepared
    metrics:
      - scores.json:
          cache: false
artifacts:
  model:
    path: model.pkl
    type: model
    desc: The churn model
"""


@dataclass
class DemoRepo:
    path: Path
    upstream: Path
    sha: dict[str, str]  # commit message → sha


def sh(args: list[str], cwd: Path) -> str:
    """Run git (with a fixed identity) or the real dvc in ``cwd``; fail loudly."""
    if args[0] == "git":
        args = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.invalid", *args[1:]]
    elif args[0] == "dvc":
        args = [DVC, *args[1:]]
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


def build_repo(root: Path) -> DemoRepo:
    """A DVC project with history: raw data added in three versions, a 3-stage pipeline reproduced with dvc repro,
    an import from a second repository, a DVC remote, GTO tags, a commit and data paths with hostile names, an
    unparseable .dvc file, a branch and a lightweight tag."""
    upstream = root / "upstream"
    upstream.mkdir(parents=True)
    sh(["git", "init", "-q", "-b", "main"], upstream)
    (upstream / "labels.csv").write_text("id,label\n1,a\n2,b\n")
    sh(["git", "add", "labels.csv"], upstream)
    sh(["git", "commit", "-qm", "Labels"], upstream)

    repo = root / "repo"
    repo.mkdir()

    def commit(message: str, *paths: str) -> None:
        sh(["git", "add", "-A", *paths] if paths else ["git", "add", "-A"], repo)
        sh(["git", "commit", "-qm", message], repo)

    sh(["git", "init", "-q", "-b", "main"], repo)
    sh(["dvc", "init", "-q"], repo)
    sh(["dvc", "remote", "add", "-d", "storage", "s3://lineage-bucket/dvc-store"], repo)
    commit("Initialise DVC")
    (repo / "data").mkdir()
    (repo / "data/raw.csv").write_text("id,value\n1,10\n2,20\n")
    sh(["dvc", "add", "-q", "data/raw.csv"], repo)
    commit("Add raw data v1")
    sh(["git", "tag", "data-v1"], repo)
    (repo / "data/raw.csv").write_text("id,value\n1,10\n2,20\n3,30\n4,40\n")
    sh(["dvc", "add", "-q", "data/raw.csv"], repo)
    commit("Raw data v2")
    sh(["dvc", "import", "-q", str(upstream), "labels.csv", "-o", "data/labels.csv"], repo)
    (repo / "params.yaml").write_text("prepare:\n  split: 0.25\ntrain:\n  lr: 0.1\n")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    sh(["dvc", "repro", "-q"], repo)
    commit("Pipeline: prepare, train, evaluate")
    sh(["git", "tag", "-a", "model@v1.0.0", "-m", "First model"], repo)
    sh(["git", "tag", "-a", "model#prod#1", "-m", "Ship it"], repo)
    (repo / SCRIPT_PATH).parent.mkdir(parents=True)
    (repo / SCRIPT_PATH).write_text("x\n")
    (repo / IMG_PATH).write_text("y\n")
    sh(["dvc", "add", "-q", SCRIPT_PATH, IMG_PATH], repo)
    commit(HOSTILE_MESSAGE)
    good = (repo / "data/raw.csv.dvc").read_text()
    (repo / "data/raw.csv.dvc").write_text("outs:\n- md5: [unclosed\n")
    commit("Break raw.csv.dvc")
    (repo / "data/raw.csv.dvc").write_text(good)
    (repo / "data/raw.csv").write_text("id,value\n1,10\n2,20\n3,30\n4,40\n5,50\n")
    sh(["dvc", "add", "-q", "data/raw.csv"], repo)
    sh(["dvc", "repro", "-q"], repo)
    commit("Raw data v3, retrained")
    sh(["git", "checkout", "-q", "-b", "experiment"], repo)
    (repo / "params.yaml").write_text("prepare:\n  split: 0.25\ntrain:\n  lr: 0.5\n")
    sh(["dvc", "repro", "-q"], repo)
    commit("Try a higher learning rate")
    sh(["git", "checkout", "-q", "main"], repo)
    log = sh(["git", "log", "--all", "--format=%H %s"], repo)
    shas = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in log.splitlines()}
    return DemoRepo(path=repo, upstream=upstream, sha=shas)


def shared_demo_repo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    """The demo repository, built once per test session whichever module asks first (the page tests and the
    browser tests share it; no test writes to it)."""
    root = tmp_path_factory.getbasetemp() / "dvc-pages-demo"
    done = root / "built.json"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        repo = build_repo(root)
        done.write_text(json.dumps({"sha": repo.sha}))
    return DemoRepo(path=root / "repo", upstream=root / "upstream", sha=json.loads(done.read_text())["sha"])


@pytest.fixture(scope="session")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return shared_demo_repo(tmp_path_factory)


def sync(source: DvcSource) -> SyncRun:
    run = core_services.sync_source(kind="dvc", source_id=source.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def repos_dir(settings, tmp_path: Path) -> Path:
    settings.DVC_REPOS_DIR = tmp_path / "repos"
    return settings.DVC_REPOS_DIR


@pytest.fixture
def synced(db: None, repos_dir: Path, demo_repo: DemoRepo) -> DvcSource:
    source, _ = dvc_source_add(name="demo", location=str(demo_repo.path))
    sync(source)
    return source


def body(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode()


def page_body(resp) -> str:
    """The page without its <head>, where the title repeats what the page shows."""
    return body(resp).split("<body>", 1)[1]


def history(path: str) -> str:
    return "/data/demo/history/?" + urlencode({"path": path})


PAGES = [
    "/data/",
    "/data/demo/",
    "/data/demo/tracked/",
    "/data/demo/history/?path=data/raw.csv",
    "/data/demo/commit/{head}/",
    "/data/demo/pipeline/",
    "/data/demo/pipeline/data.json",
    "/data/demo/stage/?address=prepare",
    "/data/demo/registry/",
]


def _url(template: str, demo_repo: DemoRepo) -> str:
    return template.format(head=demo_repo.sha["Raw data v3, retrained"])


# --- access ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_anonymous_users_to_log_in(client: Client, synced: DvcSource, demo_repo, url: str) -> None:
    resp = client.get(_url(url, demo_repo))
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")


@pytest.mark.parametrize("url", PAGES)
def test_every_page_refuses_a_user_without_the_permission(nobody: User, synced: DvcSource, demo_repo, url: str) -> None:
    client = Client()
    client.force_login(nobody)
    assert client.get(_url(url, demo_repo)).status_code == 403


def test_the_nav_search_and_overview_reach_the_dvc_pages(viewer_client: Client, synced: DvcSource) -> None:
    assert 'href="/data/"' in body(viewer_client.get("/data/"))
    found = body(viewer_client.get("/search/", {"q": "raw.csv"}))
    assert "/data/demo/history/?path=data%2Fraw.csv" in found
    stats = {s.label: s.value for s in viewer_client.get("/").context["stats"]}
    assert (
        stats["DVC repositories"] == 1
        and stats["Tracked paths"] == DataVersion.objects.values("path").distinct().count()
    )


# --- sources ---------------------------------------------------------------------------------------------------------
def test_the_source_list_shows_branch_counts_and_the_last_sync(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get("/data/")
    row = resp.context["rows"][0]
    assert (row.default_branch, row.commits, row.unparseable) == ("main", 8, 1)
    assert row.paths == DataVersion.objects.filter(source=synced).values("path").distinct().count()
    assert row.last_sync.status == SyncRun.Status.SUCCEEDED
    page = body(resp)
    assert "Succeeded" in page and str(synced.location) in page


def test_a_source_never_synced_says_how_to_sync_it(db: None, repos_dir: Path, demo_repo: DemoRepo) -> None:
    dvc_source_add(name="fresh", location=str(demo_repo.path))
    user = _user("sam", "viewer")
    user.user_permissions.add(Permission.objects.get(codename="sync_dvcsource"))
    client = Client()
    client.force_login(user)
    for url in ("/data/", "/data/fresh/", "/data/fresh/tracked/", "/data/fresh/pipeline/"):
        page = page_body(client.get(url))
        assert "Not synced yet" in page and "sync_dvc" in page and "Sync now" in page, url
    assert "No artifact here" in page_body(client.get("/data/fresh/registry/"))


def test_sync_now_queues_a_sync_for_users_allowed_to(db: None, repos_dir: Path, demo_repo: DemoRepo) -> None:
    source, _ = dvc_source_add(name="fresh", location=str(demo_repo.path))
    user = _user("sam", "viewer")
    user.user_permissions.add(Permission.objects.get(codename="sync_dvcsource"))
    client = Client()
    client.force_login(user)
    resp = client.post("/data/fresh/sync/")
    assert resp.status_code == 302 and resp["Location"] == "/data/fresh/"
    queued = SyncRun.objects.get(kind="dvc", source_id=source.pk)
    assert (queued.status, queued.trigger, queued.requested_by) == ("queued", "button", "sam")
    assert "queued" in body(client.get("/data/fresh/"))


def test_sync_now_is_refused_without_the_permission_and_to_get(viewer_client: Client, synced: DvcSource) -> None:
    assert "Sync now" not in page_body(viewer_client.get("/data/demo/"))
    assert viewer_client.post("/data/demo/sync/").status_code == 403
    assert not SyncRun.objects.filter(status="queued").exists()


def test_the_source_page_shows_refs_remotes_gaps_and_commits(
    viewer_client: Client, synced: DvcSource, demo_repo: DemoRepo
) -> None:
    resp = viewer_client.get("/data/demo/")
    page = page_body(resp)
    assert "s3://lineage-bucket/dvc-store" in page and "storage" in page
    tags = {r.name: r for r in resp.context["tags"]}
    assert tags["model@v1.0.0"].tagger_name == "Ada" and "First model" in page and "lightweight tag" in page
    assert [r.name for r in resp.context["branches"]] == ["main", "experiment"]
    [broken] = resp.context["problems"]
    assert broken.sha == demo_repo.sha["Break raw.csv.dvc"]
    assert "data/raw.csv.dvc:3" in page and "YAML file structure is corrupted" in page
    shown = [c.summary for c, _ in resp.context["commits"]]
    assert shown[0] == "Try a higher learning rate" and shown[-1] == "Initialise DVC" and len(shown) == 8
    assert "unparseable" in page


def test_commits_off_the_refs_and_missing_parents_are_reported(
    viewer_client: Client, db: None, repos_dir: Path, demo_repo: DemoRepo, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_repo.path, work)
    source, _ = dvc_source_add(name="demo", location=str(work))
    sync(source)
    sh(["git", "branch", "-f", "experiment", "main"], work)  # the experiment commit is no longer on any ref
    sync(source)
    shallow = tmp_path / "shallow"
    sh(["git", "clone", "-q", "--depth", "2", "--no-single-branch", work.as_uri(), str(shallow)], tmp_path)
    shallow_source, _ = dvc_source_add(name="shallow", location=str(shallow))
    sync(shallow_source)

    resp = viewer_client.get("/data/demo/")
    assert [c.summary for c in resp.context["anomalies"]] == ["Try a higher learning rate"]
    assert "off refs" in page_body(resp)
    resp = viewer_client.get("/data/shallow/")
    assert resp.context["counts"]["missing_parents"] >= 1
    assert "parents missing" in page_body(resp)


# --- tracked data and history ------------------------------------------------------------------------------------------
def test_tracked_data_shows_each_path_once_with_version_size_and_imports(
    viewer_client: Client, synced: DvcSource
) -> None:
    resp = viewer_client.get("/data/demo/tracked/")
    rows = {pin.data_version.path: (pin, versions) for pin, versions, _ in resp.context["rows"]}
    assert sorted(rows) == sorted(
        ["data/raw.csv", "data/labels.csv", "data/prepared", "model.pkl", "scores.json", SCRIPT_PATH, IMG_PATH]
    )
    prepared, versions = rows["data/prepared"]
    assert prepared.role == "out" and prepared.stage == "prepare" and versions == 2
    raw, versions = rows["data/raw.csv"]
    assert (raw.data_version.size, versions) == (34, 3)
    labels, _ = rows["data/labels.csv"]
    assert labels.import_url.endswith("upstream") and len(labels.import_rev_lock) == 40
    page = page_body(resp)
    assert "34\xa0bytes" in page and raw.data_version.hash_value[:10] in page and labels.import_rev_lock[:10] in page


def test_tracked_data_at_a_tag_a_branch_and_an_unknown_revision(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get("/data/demo/tracked/", {"rev": "data-v1"})
    assert [(p.data_version.path, p.data_version.size) for p, _, _ in resp.context["rows"]] == [("data/raw.csv", 19)]
    experiment = viewer_client.get("/data/demo/tracked/", {"rev": "experiment"}).context["rows"]
    main = viewer_client.get("/data/demo/tracked/").context["rows"]
    assert {p.data_version.path for p, _, _ in experiment} == {p.data_version.path for p, _, _ in main}
    resp = viewer_client.get("/data/demo/tracked/", {"rev": "no-such-branch"})
    assert resp.status_code == 404 and "No mirrored commit, branch or tag" in resp.content.decode()


def test_the_history_of_a_path_lists_versions_size_changes_refs_and_gaps(
    viewer_client: Client, synced: DvcSource, demo_repo: DemoRepo
) -> None:
    resp = viewer_client.get(history("data/raw.csv"))
    rows = resp.context["rows"]
    assert [r.kind for r in rows] == ["version", "gap", "version", "version"]
    v3, gap, v2, v1 = rows
    assert [v.version.size for v in (v3, v2, v1)] == [34, 29, 19]
    assert [v.size_change for v in (v3, v2, v1)] == [5, 10, None]
    assert [r.name for r in v1.refs] == ["data-v1"]
    assert {r.name for r in v2.refs} == {"model@v1.0.0", "model#prod#1"}
    assert {r.name for r in v3.refs} == {"main", "experiment"}
    assert v2.first.sha == demo_repo.sha["Raw data v2"] and v2.commits == 4
    assert gap.commit.sha == demo_repo.sha["Break raw.csv.dvc"] and gap.problems[0]["line"] == 3
    page = page_body(resp)
    assert "+5\xa0bytes" in page and "+10\xa0bytes" in page and "gap" in page


def test_the_history_of_an_unknown_path_says_so(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get(history("nope.csv"))
    assert resp.status_code == 404 and "The mirror has no version of this path" in resp.content.decode()


# --- commits, stages, registry -------------------------------------------------------------------------------------------
def test_the_commit_page_shows_the_commit_its_problems_data_and_stages(
    viewer_client: Client, synced: DvcSource, demo_repo: DemoRepo
) -> None:
    sha = demo_repo.sha["Break raw.csv.dvc"]
    resp = viewer_client.get(f"/data/demo/commit/{sha}/")
    page = page_body(resp)
    assert sha in page and demo_repo.sha[HOSTILE_MESSAGE][:10] in page and "Ada" in page
    assert resp.context["problems"][0]["path"] == "data/raw.csv.dvc" and "Files that did not load" in page
    assert {a for a, _, _ in resp.context["stages"]} >= {"prepare", "train", "evaluate"}
    assert f"/data/demo/pipeline/?rev={sha}" in page
    tagged = viewer_client.get(f"/data/demo/commit/{demo_repo.sha['Pipeline: prepare, train, evaluate'][:8]}/")
    assert {r.name for r in tagged.context["refs"]} == {"model@v1.0.0", "model#prod#1"}
    assert viewer_client.get("/data/demo/commit/0000000/").status_code == 404


def test_the_stage_page_shows_cmd_params_and_hashes(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get("/data/demo/stage/", {"address": "train", "rev": "experiment"})
    page = page_body(resp)
    assert "cat data/prepared/train.csv data/labels.csv &gt; model.pkl" in page
    assert ("params.yaml", [("train.lr", 0.5)]) in resp.context["params"]
    model = Pin.objects.get(
        snapshot__commits__refs__name="experiment", role="out", data_version__path="model.pkl"
    ).data_version
    assert model.hash_value[:10] in page and history("model.pkl").replace("&", "&amp;") in page
    imported = viewer_client.get("/data/demo/stage/", {"address": "data/labels.csv.dvc"})
    assert "locked at" in page_body(imported) and len(imported.context["imports"]) == 1
    assert viewer_client.get("/data/demo/stage/", {"address": "nope"}).status_code == 404


def test_the_registry_shows_artifacts_stages_and_history(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get("/data/demo/registry/")
    [model] = resp.context["artifacts"]
    assert (model.name, model.info["type"], model.info["path"], model.declared) == ("model", "model", "model.pkl", True)
    assert [(s.stage, s.version, s.by) for s in model.stages] == [("prod", "v1.0.0", "Ada")]
    assert [v for v, _ in model.versions] == ["v1.0.0"]
    events = [(e.action, e.tag, e.message) for e in resp.context["page"].object_list]
    assert set(events) == {("assign", "model#prod#1", "Ship it"), ("register", "model@v1.0.0", "First model")}
    page = page_body(resp)
    assert "The churn model" in page and "registered" in page and "assigned" in page


# --- the pipeline ---------------------------------------------------------------------------------------------------------
def test_the_pipeline_json_is_the_mirrored_graph(viewer_client: Client, synced: DvcSource, demo_repo) -> None:
    for outs in ("", "1"):
        data = viewer_client.get("/data/demo/pipeline/data.json", {"outs": outs}).json()
        graph = Commit.objects.get(sha=demo_repo.sha["Raw data v3, retrained"]).snapshot.graph
        expected = graph.outputs if outs else graph.stages
        assert sorted(data["nodes"]) == sorted(expected["nodes"]) and expected["nodes"]
        assert sorted(map(tuple, data["edges"])) == sorted(map(tuple, expected["edges"]))
        placed = [n for trace in data["figure"]["data"][1:] for n in trace["customdata"]]
        assert len(placed) == len(expected["nodes"])


def test_the_pipeline_hover_shows_cmd_params_hashes_and_links_escaped(viewer_client: Client, synced: DvcSource) -> None:
    stages = viewer_client.get("/data/demo/pipeline/data.json").json()["figure"]["data"]
    hover = {url: text for t in stages[1:] for url, text in zip(t["customdata"], t["hovertext"], strict=True)}
    train = hover[
        "/data/demo/stage/?" + urlencode({"rev": Commit.objects.get(refs__name="main").sha, "address": "train"})
    ]
    assert "cmd: cat data/prepared/train.csv data/labels.csv &gt; model.pkl" in train
    assert "train.lr = 0.1" in train and "data/prepared" in train
    text = " ".join(str(t.get("text")) + str(t.get("hovertext")) for t in stages)
    assert SCRIPT not in text and IMG not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    outs = viewer_client.get("/data/demo/pipeline/data.json", {"outs": "1"}).json()["figure"]["data"]
    links = [u for t in outs[1:] for u in t["customdata"]]
    assert history("data/raw.csv") in links and history(IMG_PATH) in links
    raw = DataVersion.objects.get(path="data/raw.csv", size=34)
    assert any(raw.hash_value in h and "34 bytes" in h for t in outs[1:] for h in t["hovertext"])


def test_the_pipeline_page_links_its_data_and_picks_revisions(viewer_client: Client, synced: DvcSource) -> None:
    resp = viewer_client.get("/data/demo/pipeline/", {"rev": "experiment", "outs": "1"})
    page = page_body(resp)
    sha = Commit.objects.get(refs__name="experiment").sha
    assert f'data-url="/data/demo/pipeline/data.json?rev={sha}&amp;outs=1"' in page
    assert '<option value="model@v1.0.0">' in page and "vendor/plotly.min.js" in page


def test_the_pipeline_page_says_why_a_commit_has_no_graph(
    viewer_client: Client, synced: DvcSource, demo_repo: DemoRepo
) -> None:
    broken = Commit.objects.get(sha=demo_repo.sha["Break raw.csv.dvc"])
    page = page_body(viewer_client.get("/data/demo/pipeline/", {"rev": broken.sha}))
    assert "Some DVC files did not load" in page and "data/raw.csv.dvc:3" in page
    snapshot = Snapshot.objects.create(
        source=synced, key="no-graph", problems=[{"path": "dvc.yaml", "line": 7, "message": "cycle detected"}]
    )
    Commit.objects.filter(pk=broken.pk).update(snapshot=snapshot)
    resp = viewer_client.get("/data/demo/pipeline/", {"rev": broken.sha})
    page = page_body(resp)
    assert "No pipeline at this commit" in page and "dvc.yaml:7" in page and "cycle detected" in page
    assert "pipeline-graph" not in page
    assert viewer_client.get("/data/demo/pipeline/data.json", {"rev": broken.sha}).status_code == 404


# --- hostile strings ---------------------------------------------------------------------------------------------------
def test_hostile_commit_messages_and_paths_are_escaped(
    viewer_client: Client, synced: DvcSource, demo_repo: DemoRepo
) -> None:
    sha = demo_repo.sha[HOSTILE_MESSAGE]
    for url in (
        "/data/demo/",
        f"/data/demo/commit/{sha}/",
        "/data/demo/tracked/",
        history(IMG_PATH),
        history(SCRIPT_PATH),
        "/data/demo/pipeline/",
        "/data/demo/stage/?" + urlencode({"address": SCRIPT_PATH + ".dvc"}),
    ):
        page = page_body(viewer_client.get(url))
        assert SCRIPT not in page and IMG not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&lt;img src=x onerror=alert(1)&gt;" in page, url
    page = page_body(viewer_client.get("/data/demo/tracked/"))
    assert urlencode({"path": IMG_PATH}) in page  # links carry the path URL-encoded


# --- query counts -----------------------------------------------------------------------------------------------------
MAX_QUERIES = 16  # session, user, permissions, the header's last sync, and the page's own reads


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _grow_history(source: DvcSource, n: int) -> None:
    """n more commits on main, each pinning a new version of data/raw.csv and of n extra paths, and a tag each."""
    head = Commit.objects.get(refs__name="main", refs__kind="branch")
    graph = PipelineGraph.objects.filter(source=source).first()
    last = head.position
    for i in range(n):
        snapshot = Snapshot.objects.create(source=source, key=f"grown-{i}", graph=graph)
        versions = [
            DataVersion.objects.create(source=source, path="data/raw.csv", hash_value=f"{i:032x}", size=100 + i),
            *(
                DataVersion.objects.create(source=source, path=f"extra/{j}.csv", hash_value=f"{i:016x}{j:016x}", size=j)
                for j in range(n)
            ),
        ]
        Pin.objects.bulk_create(
            Pin(snapshot=snapshot, data_version=dv, role="out", stage=f"{dv.path}.dvc", dvcfile=f"{dv.path}.dvc")
            for dv in versions
        )
        last += 1
        commit = Commit.objects.create(
            source=source, sha=f"{i:040x}", parents=[head.sha], authored_at=head.authored_at,
            committed_at=head.committed_at, message=f"grown {i}", position=last, dvc_changed=True, snapshot=snapshot,
        )  # fmt: skip
        Ref.objects.create(source=source, kind="tag", name=f"grown-{i}", sha=commit.sha, commit=commit)
        head = commit
    Ref.objects.filter(source=source, name="main").update(sha=head.sha, commit=head)


@pytest.mark.parametrize("url", ["/data/demo/", "/data/demo/tracked/", "/data/demo/history/?path=data/raw.csv"])
def test_a_page_query_count_does_not_grow_with_its_rows(
    viewer_client: Client, synced: DvcSource, url: str, django_assert_max_num_queries
) -> None:
    before = _queries(viewer_client, url)
    assert before <= MAX_QUERIES
    _grow_history(synced, 40)
    with django_assert_max_num_queries(before):
        resp = viewer_client.get(url)
    assert resp.status_code == 200
    assert "grown 39" in resp.content.decode() or "extra/39.csv" in resp.content.decode()
