"""A viewer's walk in a real browser: an md5 prefix typed in the header's search box, the data version's impact
page, the data it replaced, and two model versions compared from the compare form; screenshots of each page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from apps.dvc_sync.models import DataVersion
from apps.lineage.models import LineageLink
from apps.mlflow_sync.models import Run
from tests.browser.conftest import shot
from tests.conftest import Demo, sync_demo

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_page(viewer_page: Page, demo_template: Demo) -> Iterator[Page]:
    sync_demo(demo_template)
    dialogs: list[str] = []
    viewer_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield viewer_page
    assert dialogs == [], f"a hostile string ran as script: {dialogs}"


def test_an_md5_prefix_leads_to_the_versions_impact(demo_page: Page, demo_template: Demo) -> None:
    page = demo_page
    page.goto("/")
    box = page.get_by_role("searchbox", name="Search")
    box.fill(demo_template.data_md5s["v3"][:8])
    box.press("Enter")
    page.wait_for_url("**/search/?q=*")
    expect(page.get_by_role("heading", name="Data versions")).to_be_visible()
    shot(page, "lineage-search-md5")

    page.get_by_role("link", name="data/customers.csv @ ").click()
    page.wait_for_url("**/lineage/data/*/")
    expect(page.locator(".impact-headline")).to_contain_text(
        "2 model versions in Production/Staging were trained on this version"
    )
    expect(page.locator("table.impact tbody tr")).to_have_count(4)
    expect(page.locator("table.impact tr.row-serving")).to_have_count(2)
    expect(page.locator("tr.row-serving", has_text="@production")).to_have_count(1)
    shot(page, "lineage-data-version")

    page.get_by_role("link", name="history of this path").first.click()
    page.wait_for_url("**/data/demo/history/?path=*")
    expect(page.locator("h2.path-title")).to_contain_text("data/customers.csv")


def test_the_first_data_version_shows_what_replaced_it(demo_page: Page, demo_template: Demo) -> None:
    v1 = DataVersion.objects.get(hash_value=demo_template.data_md5s["v1"])
    demo_page.goto(f"/lineage/data/{v1.pk}/")
    expect(demo_page.locator(".impact-headline")).to_contain_text("2 later versions of data/customers.csv exist")
    later = demo_page.locator("section", has=demo_page.get_by_role("heading", name="Later versions of this path"))
    expect(later.locator("tbody tr")).to_have_count(2)
    shot(demo_page, "lineage-data-version-replaced")


def test_two_model_versions_compared_from_the_form(demo_page: Page, demo_template: Demo) -> None:
    page = demo_page
    v1, v2 = demo_template.model_versions["data-v1"], demo_template.model_versions["data-v2"]
    page.goto("/lineage/compare/")
    page.get_by_label("Model version A").select_option(f"mv:churn-predictor/{v1}")
    page.get_by_label("Model version B").select_option(f"mv:churn-predictor/{v2}")
    page.get_by_role("button", name="Compare versions").click()
    page.wait_for_url("**/lineage/compare/?a=*")
    row = page.locator("table.compare-data tbody tr", has_text="data/customers.csv")
    expect(row).to_contain_text("changed")
    expect(row).to_contain_text(demo_template.data_md5s["v1"][:10])
    expect(row).to_contain_text(demo_template.data_md5s["v2"][:10])
    commits = page.locator("section", has=page.get_by_role("heading", name="Commits between"))
    expect(commits.locator("tbody tr")).to_have_count(2)
    expect(commits).to_contain_text("Add Q2 customers (v2: 3,500 customers)")
    shot(page, "lineage-compare")


def test_hostile_names_show_as_text(demo_page: Page, demo_template: Demo) -> None:
    v3 = DataVersion.objects.get(hash_value=demo_template.data_md5s["v3"])
    dv = DataVersion.objects.create(
        source=v3.source, path="data/<img src=x onerror=alert(1)>.csv", hash_value="ab" * 16
    )
    run = Run.objects.get(run_id=demo_template.run_ids["data-v1"])
    Run.objects.filter(pk=run.pk).update(name="<script>alert(2)</script>")
    LineageLink.objects.create(run=run, data_version=dv, path=dv.path, md5=dv.hash_value, evidence=["digest"])
    demo_page.goto(f"/lineage/data/{dv.pk}/")
    expect(demo_page.locator("h1")).to_contain_text("data/<img src=x onerror=alert(1)>.csv")
    expect(demo_page.locator("table.impact")).to_contain_text("<script>alert(2)</script>")
    demo_page.goto("/search/?q=onerror")
    expect(demo_page.get_by_role("link", name="data/<img src=x onerror=alert(1)>.csv @ abababab")).to_be_visible()


def test_search_results_are_grouped_by_kind(demo_page: Page) -> None:
    box = demo_page.get_by_role("searchbox", name="Search")
    demo_page.goto("/")
    box.fill("churn")
    box.press("Enter")
    demo_page.wait_for_url("**/search/?q=churn")
    headings = demo_page.locator("main section.card h2").all_inner_texts()
    assert [h.split()[0] for h in headings][:3] == ["Model", "Models", "Experiments"]
    shot(demo_page, "lineage-search-kinds")
