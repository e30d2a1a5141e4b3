"""A person's walk through the DVC pages in a real browser: the pipeline DAG drawn by plotly, its hover and its
click-through to a data path's history, hostile names shown as text, and a screenshot of every page."""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import Page, expect

from apps.dvc_sync.models import Commit, DvcSource
from apps.dvc_sync.services import dvc_source_add
from tests.browser.conftest import login, shot
from tests.conftest import _user
from tests.dvc_sync.test_pages import HOSTILE_MESSAGE, IMG_PATH, SCRIPT, DemoRepo, shared_demo_repo, sync

pytestmark = pytest.mark.browser

# Where a node's marker is on screen in the plotly graph at ``selector``, found by the link plotly carries for it
# in customdata (the lineage browser tests use it too).
NODE_IN = """([selector, url]) => {
  const gd = document.querySelector(selector);
  const size = gd._fullLayout._size, box = gd.getBoundingClientRect();
  for (const trace of gd.data) {
    const i = (trace.customdata || []).indexOf(url);
    if (i >= 0) {
      return {x: box.left + size.l + gd._fullLayout.xaxis.l2p(trace.x[i]),
              y: box.top + size.t + gd._fullLayout.yaxis.l2p(trace.y[i])};
    }
  }
  return null;
}"""


@pytest.fixture
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return shared_demo_repo(tmp_path_factory)


@pytest.fixture
def synced(transactional_db: None, settings, tmp_path: Path, demo_repo: DemoRepo) -> DvcSource:
    settings.DVC_REPOS_DIR = tmp_path / "repos"
    source, _ = dvc_source_add(name="demo", location=str(demo_repo.path))
    sync(source)
    return source


@pytest.fixture
def viewer_page(page: Page) -> Page:
    user = _user("vera", "viewer")
    # A transactional test's flush empties the role tables; the DVC mirror's grants come back with its migration.
    importlib.import_module("apps.dvc_sync.migrations.0002_permissions").forwards(django_apps, None)
    login(page, user, "pw-vera")
    return page


def _open_graph(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    expect(page.locator("#pipeline-graph .main-svg").first).to_be_visible()
    expect(page.locator("#pipeline-graph")).to_have_attribute("data-ready", "1")


def _node(page: Page, link: str) -> dict[str, float]:
    point = page.evaluate(NODE_IN, ["#pipeline-graph", link])
    assert point is not None, f"no node links to {link}"
    return point


def test_the_pipeline_draws_hovers_and_clicks_through_to_a_history(synced: DvcSource, viewer_page: Page) -> None:
    page = viewer_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    head = Commit.objects.get(refs__name="main").sha
    _open_graph(page, "/data/demo/pipeline/")
    expect(page.locator("#pipeline-note")).to_contain_text("7 stages, 5 edges")
    expect(page.locator("#pipeline-graph .scatterlayer .trace:has(g.textpoint) g.points path.point")).to_have_count(7)

    train = _node(page, "/data/demo/stage/?" + urlencode({"rev": head, "address": "train"}))
    page.mouse.move(train["x"], train["y"])
    hover = page.locator("#pipeline-graph .hoverlayer .hovertext")
    expect(hover).to_contain_text("cmd: cat data/prepared/train.csv data/labels.csv > model.pkl")
    expect(hover).to_contain_text("train.lr = 0.1")
    shot(page, "dvc_pipeline_stages")

    evil = _node(page, "/data/demo/stage/?" + urlencode({"rev": head, "address": IMG_PATH + ".dvc"}))
    page.mouse.move(evil["x"], evil["y"])
    expect(hover).to_contain_text(IMG_PATH)  # shown as text, not markup
    assert page.locator("#pipeline-graph img").count() == 0

    page.mouse.move(train["x"], train["y"])
    expect(hover).to_contain_text("train.lr = 0.1")  # plotly clicks the point it hovers: wait until it is train
    page.mouse.click(train["x"], train["y"])
    page.wait_for_url("**/data/demo/stage/**")
    expect(page.locator("h2.path-title")).to_contain_text("Stage train")
    expect(page.locator("pre.cmd")).to_have_text("cat data/prepared/train.csv data/labels.csv > model.pkl")
    shot(page, "dvc_stage")

    _open_graph(page, "/data/demo/pipeline/?outs=1")
    expect(page.locator("#pipeline-note")).to_contain_text("7 outputs, 5 edges")
    raw = _node(page, "/data/demo/history/?" + urlencode({"path": "data/raw.csv"}))
    page.mouse.move(raw["x"], raw["y"])
    expect(hover).to_contain_text("34 bytes")
    expect(hover).to_contain_text("output of data/raw.csv.dvc")
    shot(page, "dvc_pipeline_outputs")
    page.mouse.click(raw["x"], raw["y"])
    page.wait_for_url("**/data/demo/history/**")
    expect(page.locator("h2.path-title")).to_contain_text("History of data/raw.csv")
    expect(page.locator("table.history tbody tr")).to_have_count(4)
    expect(page.locator("tr.gap")).to_contain_text("Break raw.csv.dvc")
    shot(page, "dvc_data_history")
    assert dialogs == []


def test_every_dvc_page_reads_at_a_glance(synced: DvcSource, viewer_page: Page, demo_repo: DemoRepo) -> None:
    page = viewer_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/")
    page.click("nav.mainnav >> text=Data")
    expect(page.locator("h1")).to_have_text("Data repositories")
    expect(page.locator("table tbody tr")).to_contain_text("main")
    shot(page, "dvc_source_list")

    page.click("text=demo")
    expect(page.locator("#unparseable")).to_contain_text("data/raw.csv.dvc:3")
    expect(page.locator("#commits")).to_contain_text(HOSTILE_MESSAGE)
    shot(page, "dvc_source_detail")

    page.click("nav.tabs >> text=Tracked data")
    expect(page.locator("table.tracked tbody tr")).to_have_count(7)
    expect(page.locator("table.tracked")).to_contain_text(SCRIPT)
    shot(page, "dvc_data_list")

    page.goto(f"/data/demo/commit/{demo_repo.sha[HOSTILE_MESSAGE]}/")
    expect(page.locator("pre.message")).to_have_text(HOSTILE_MESSAGE)
    shot(page, "dvc_commit_detail")

    page.goto(f"/data/demo/commit/{demo_repo.sha['Break raw.csv.dvc']}/")
    expect(page.locator(".notice-bad")).to_contain_text("data/raw.csv.dvc:3")
    shot(page, "dvc_commit_unparseable")

    page.click("nav.tabs >> text=Registry")
    expect(page.locator("table").first).to_contain_text("model.pkl")
    expect(page.locator("body")).to_contain_text("model#prod#1")
    shot(page, "dvc_registry")

    dvc_source_add(name="fresh", location=str(demo_repo.path))
    page.goto("/data/fresh/")
    expect(page.locator(".notice")).to_contain_text("manage.py sync_dvc --source fresh")
    shot(page, "dvc_not_synced")
    assert dialogs == []
