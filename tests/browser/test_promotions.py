"""A person promoting in a real browser, on a copy of the churn demo: the Staging version (trained on uncommitted
data) refused by the verdict gate on the review page; the verified version promoted to Production from the model
version page's panel, pending until the worker's re-read of MLflow confirms it; the registry timeline on the model
page; the events in the audit log. Screenshots of every page."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apps.audit.context import Actor
from apps.mlflow_sync.models import RegisteredModel
from apps.promotions.models import Promotion, PromotionPolicy
from apps.promotions.services import promotion_sweep
from tests.browser.conftest import login, shot
from tests.conftest import Demo, _user, sync_demo

pytestmark = pytest.mark.browser
MODEL = "churn-predictor"


@pytest.fixture
def demo_copy(demo_template: Demo, tmp_path: Path, transactional_db: None) -> Demo:
    """The demo copied (this test writes to its MLflow registry) and synced."""
    path = tmp_path / "demo"
    shutil.copytree(demo_template.path, path, symlinks=True)
    copy = Demo(path, demo_template.run_ids, demo_template.model_versions, demo_template.data_md5s,
                demo_template.aliases)  # fmt: skip
    sync_demo(copy)
    return copy


def test_promote_to_production_from_the_model_version_page(demo_copy: Demo, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    model = RegisteredModel.objects.get(name=MODEL)
    PromotionPolicy.objects.create(model=model, target="production", require_verdict=True)
    login(page, _user("abby", "approver", is_staff=False), "pw-abby")
    staging = demo_copy.aliases["staging"]
    verified = demo_copy.model_versions["verified-input"]
    production = demo_copy.aliases["production"]

    # The Staging version's lineage conflicts: the review page shows the gate refusing it, with no confirm button.
    page.goto(f"/lineage/models/{MODEL}/versions/{staging}/")
    panel = page.locator("#fragment-promotions .promo-panel")
    expect(panel).to_contain_text("Held now by")
    panel.get_by_role("link", name=f"Promote v{staging} to Production…").click()
    expect(page.locator(".gates")).to_contain_text("lineage verdict is not conflict or gaps")
    expect(page.locator(".gates-bad")).to_contain_text("The gates refuse this promotion now")
    expect(page.locator("textarea[name=reason]")).to_have_count(0)
    shot(page, "promotions-review-refused")

    # The verified version passes: promote it from its panel.
    page.goto(f"/lineage/models/{MODEL}/versions/{verified}/")
    page.locator("#fragment-promotions").get_by_role("link", name=f"Promote v{verified} to Production…").click()
    expect(page.locator(".gates-ok")).to_contain_text("Every gate passes")
    expect(page.locator(".changes")).to_contain_text(f"v{production} → v{verified}")
    shot(page, "promotions-review")
    page.fill("textarea[name=reason]", "Verified input, same AUC as v4 <b>and</b> reproducible.")
    page.get_by_role("button", name="Promote to Production").click()
    expect(page.locator(".status-card")).to_contain_text("Not in MLflow yet")
    expect(page.locator("h1 .pstatus")).to_contain_text("pending")
    shot(page, "promotions-pending")

    # The worker (here: the embedded scheduler's sweep) writes it to MLflow and confirms it.
    promotion_sweep(run=True, actor=Actor.system("scheduler"))
    assert Promotion.objects.get().status == "confirmed"
    page.reload()
    expect(page.locator("h1 .pstatus")).to_contain_text("confirmed")
    expect(page.locator(".status-card")).to_contain_text(f"@production on v{verified}")
    expect(page.locator(".reason-text")).to_contain_text("<b>and</b>")  # shown as written, not as markup
    shot(page, "promotions-confirmed")

    page.goto(f"/lineage/models/{MODEL}/versions/{verified}/")
    expect(page.locator(".mv-badges")).to_contain_text("@production")
    expect(page.locator("#fragment-promotions")).to_contain_text(f"Roll back to v{production}")
    shot(page, "promotions-panel-after")

    # The model page's registry history: the chart and the promotion among the changes.
    page.goto(f"/mlflow/models/{model.pk}/")
    expect(page.locator("#registry-timeline .main-svg").first).to_be_visible()
    expect(page.locator("#history table")).to_contain_text("promoted here")
    page.locator("#history select[name=slot]").select_option("alias:production")
    confirmed = Promotion.objects.get().finished_at + timedelta(seconds=1)
    page.locator("#history input[name=at]").fill(confirmed.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".held-answer")).to_contain_text(f"was held by version {verified}")
    expect(page.locator(".version-summary")).to_contain_text("data/customers.csv")  # what it was trained on
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "promotions-model-history")

    page.goto("/")
    expect(page.locator(".card", has_text="Promotions")).to_contain_text(f"{MODEL} v{verified} → Production")
    shot(page, "promotions-home")

    # An auditor follows it in the audit log: the promotion's events, and one event with its place in the chain.
    page.context.clear_cookies()
    login(page, _user("audrey", "auditor"), "pw-audrey")
    page.goto("/audit/")
    page.locator("select[name=action]").select_option("promotion.")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".audit-table")).to_contain_text("promotion.confirmed")
    expect(page.locator(".audit-table")).not_to_contain_text("sync.succeeded")
    shot(page, "audit-log-promotions")
    page.locator(".audit-table a", has_text=f"{MODEL} v{verified}").first.click()
    expect(page.locator("h1")).to_contain_text("Promotion #")  # the target opens the promotion's page
    page.goto("/audit/")
    page.locator(".audit-table tbody tr", has_text="promotion.confirmed").locator("td.num a").click()
    expect(page.locator(".hash").first).to_be_visible()
    expect(page.locator("pre.json").first).to_contain_text("alias_version")
    shot(page, "audit-event")
    assert not errors, errors
