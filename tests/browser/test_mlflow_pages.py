"""A person's walk through the MLflow pages in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from apps.core import services as core_services
from apps.mlflow_sync.models import MlflowSource, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.browser.conftest import login, shot
from tests.conftest import MlflowStore, _user

pytestmark = pytest.mark.browser


@pytest.fixture
def synced(transactional_db: None, mlflow_store: MlflowStore) -> MlflowSource:
    source = mlflow_source_add(name="local", tracking_uri=mlflow_store.uri)[0]
    core_services.sync_source(kind="mlflow", source_id=source.pk)
    return source


def test_login_is_required_and_works(page: Page) -> None:
    user = _user("vera", "viewer")
    page.goto("/mlflow/runs/")
    assert "/login/" in page.url
    login(page, user, "pw-vera")
    expect(page.locator("h1")).to_have_text("Overview")


def test_a_viewer_filters_runs_and_opens_one_with_its_metric_chart(synced: MlflowSource, viewer_page: Page) -> None:
    page = viewer_page
    page.goto("/mlflow/runs/")
    expect(page.locator("table.runs tbody tr")).to_have_count(Run.objects.filter(deleted=False).count())
    page.fill("input[name=filter]", "metrics.auc > 0.8")
    page.click("button:has-text('Apply')")
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    shot(page, "run_list")
    page.click("text=rf-5")
    expect(page.locator("h1")).to_contain_text("rf-5")
    page.wait_for_load_state("load")  # the chart script (plotly) is attached once the page has loaded
    page.click("button[data-metric-key=loss]")
    expect(page.locator("#metric-chart .main-svg").first).to_be_visible()
    expect(page.locator("#metric-chart-note")).to_contain_text("5 values logged for loss")
    shot(page, "run_detail")


def test_hostile_strings_stay_text_in_the_page_and_the_chart(
    synced: MlflowSource, viewer_page: Page, mlflow_store: MlflowStore
) -> None:
    page = viewer_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    run = Run.objects.get(run_id=mlflow_store.facts["run_ids"]["hostile"])
    page.goto(f"/mlflow/runs/{run.pk}/")
    expect(page.locator("h1")).to_contain_text('<script>alert("x")</script>')
    expect(page.locator("#metric-chart .main-svg").first).to_be_visible()
    assert dialogs == []
    assert page.locator("b:has-text('bold')").count() == 0


def test_the_model_page_shows_who_holds_production(synced: MlflowSource, viewer_page: Page) -> None:
    page = viewer_page
    page.goto("/mlflow/models/")
    shot(page, "model_list")
    page.click("text=churn-predictor")
    expect(page.locator("h1")).to_contain_text("churn-predictor")
    row = page.locator("section", has_text="Versions").locator(
        "tr", has=page.locator("span.alias", has_text="@production")
    )
    expect(row).to_contain_text("Production")
    expect(row).to_contain_text("v2")
    shot(page, "model_detail")


def test_the_header_shows_the_last_sync(synced: MlflowSource, viewer_page: Page) -> None:
    viewer_page.goto("/")
    expect(viewer_page.locator(".syncstatus")).to_contain_text("Synced")
    shot(viewer_page, "overview")
