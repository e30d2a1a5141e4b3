"""A person's walk through the lineage pages in a real browser, on the churn demo: from the home page to the
Production version, its graph drawn by plotly, a click on a data node to that data version's page, then the run
page with its lineage fragment; and the Staging version's conflict. Screenshots of every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from apps.mlflow_sync.models import ModelVersion
from tests.browser.conftest import shot
from tests.conftest import Demo, sync_demo

pytestmark = pytest.mark.browser

MODEL = "churn-predictor"

# Where the node whose customdata (its link) passes ``test`` is on screen, and that link.
NODE_AT = """([graphId, prefix]) => {
  const gd = document.getElementById(graphId);
  const size = gd._fullLayout._size, box = gd.getBoundingClientRect();
  for (const trace of gd.data) {
    const i = (trace.customdata || []).findIndex((url) => url && url.startsWith(prefix));
    if (i >= 0) {
      return {url: trace.customdata[i], x: box.left + size.l + gd._fullLayout.xaxis.l2p(trace.x[i]),
              y: box.top + size.t + gd._fullLayout.yaxis.l2p(trace.y[i])};
    }
  }
  return null;
}"""


@pytest.fixture
def synced_demo(demo_template: Demo, transactional_db: None) -> Demo:
    sync_demo(demo_template)
    return demo_template


def _graph_ready(page: Page, graph_id: str) -> None:
    expect(page.locator(f"#{graph_id} .main-svg").first).to_be_visible()
    expect(page.locator(f"#{graph_id}")).to_have_attribute("data-ready", "1")


def test_from_home_to_the_production_version_its_data_and_its_run(synced_demo: Demo, viewer_page: Page) -> None:
    page = viewer_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    production = synced_demo.aliases["production"]
    version_url = f"/lineage/models/{MODEL}/versions/{production}/"

    page.goto("/")
    panel = page.locator(".home-models")
    expect(panel).to_contain_text(MODEL)
    expect(panel.locator(f'a[href="{version_url}"]')).to_have_count(1)
    shot(page, "lineage-home")

    panel.locator(f'a[href="{version_url}"]').click()
    page.wait_for_url(f"**{version_url}")
    expect(page.locator(".verdict-card .verdict-big")).to_contain_text("complete")
    _graph_ready(page, "lineage-graph")
    expect(page.locator("#lineage-graph-note")).to_contain_text("7 nodes, 6 edges")
    expect(page.locator("#lineage-graph .scatterlayer .trace:has(g.textpoint) g.points path.point")).to_have_count(7)
    shot(page, "lineage-model-version-production")

    node = page.evaluate(NODE_AT, ["lineage-graph", "/lineage/data/"])
    assert node is not None, "no data node links to a data version page"
    page.mouse.move(node["x"], node["y"])
    expect(page.locator(".hoverlayer")).to_contain_text("md5")
    page.mouse.click(node["x"], node["y"])
    page.wait_for_url(f"**{node['url']}")
    assert re.search(r"/lineage/data/\d+/$", page.url)

    page.goto(version_url)
    page.get_by_role("link", name="Run page →").click()
    page.wait_for_url(re.compile(r"/mlflow/runs/\d+/$"))
    fragment = page.locator("#run-lineage")
    expect(fragment).to_have_attribute("data-loaded", "1")
    expect(fragment.locator(".verdict-big")).to_contain_text("complete")
    expect(fragment).to_contain_text("Made by dvc repro")
    _graph_ready(page, "run-lineage-graph")
    shot(page, "lineage-run-page")
    assert errors == []


def test_the_staging_version_shows_its_conflict(synced_demo: Demo, viewer_page: Page) -> None:
    page = viewer_page
    staging = ModelVersion.objects.get(model__name=MODEL, version=synced_demo.aliases["staging"])
    page.goto(f"/lineage/models/{MODEL}/versions/{staging.version}/")
    expect(page.locator(".verdict-card .verdict-big")).to_contain_text("conflict")
    expect(page.locator(".verdict-problems")).to_contain_text(synced_demo.data_md5s["uncommitted"])
    expect(page.locator("tr.link-conflict .evidence-conflict")).to_be_visible()
    _graph_ready(page, "lineage-graph")
    shot(page, "lineage-model-version-staging")
