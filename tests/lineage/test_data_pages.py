"""The data version page (impact analysis) and the compare page, on the churn demo synced for real."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from apps.dvc_sync.models import Commit, DataVersion
from apps.lineage import compare
from apps.lineage.models import LineageLink, RunLineage, Verdict
from apps.mlflow_sync.models import ModelVersion, RegisteredModel, Run
from tests.conftest import Demo

pytestmark = pytest.mark.django_db

CUSTOMERS = "data/customers.csv"


def customers(demo: Demo, version: str) -> DataVersion:
    return DataVersion.objects.get(path=CUSTOMERS, hash_value=demo.data_md5s[version])


def page(client: Client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode()


# --- the data version page -----------------------------------------------------------------------------------------
def test_the_impact_page_lists_every_run_and_model_version_trained_on_v3(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get(f"/lineage/data/{customers(demo, 'v3').pk}/")
    labels = ("data-v3", "tuned", "verified-input", "uncommitted-data")
    assert {row.run.run_id for row in resp.context["rows"]} == {demo.run_ids[label] for label in labels}
    versions = {v.version for row in resp.context["rows"] for v in row.versions}
    assert versions == {demo.model_versions[label] for label in labels}
    body = resp.content.decode()
    for label in labels:
        assert f'href="/lineage/models/churn-predictor/versions/{demo.model_versions[label]}/"' in body


def test_the_impact_page_marks_the_versions_serving_now(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get(f"/lineage/data/{customers(demo, 'v3').pk}/")
    serving = {v.version for v in resp.context["summary"].serving}
    assert serving == {demo.aliases["production"], demo.aliases["staging"]}
    assert {v.version for row in resp.context["rows"] if row.serving for v in row.serving} == serving
    body = resp.content.decode()
    assert "2 model versions in Production/Staging were trained on this version" in body
    assert body.count('class="row-serving"') == 2
    assert "it is the latest version of" in body


def test_the_impact_page_shows_the_runs_evidence_and_verdict(viewer_client: Client, demo: Demo) -> None:
    body = page(viewer_client, f"/lineage/data/{customers(demo, 'v3').pk}/")
    uncommitted = Run.objects.get(run_id=demo.run_ids["uncommitted-data"])
    row = body.split(f'href="/mlflow/runs/{uncommitted.pk}/"', 1)[1].split("</tr>", 1)[0]
    assert "evidence-conflict" in row and "verdict-conflict" in row and "@staging" in row


def test_the_v1_page_lists_the_later_versions_that_replaced_it(viewer_client: Client, demo: Demo) -> None:
    v1 = customers(demo, "v1")
    resp = viewer_client.get(f"/lineage/data/{v1.pk}/")
    later = resp.context["timeline"].later
    assert [item.data_version.hash_value for item in later] == [demo.data_md5s["v2"], demo.data_md5s["v3"]]
    assert [item.runs for item in later] == [1, 4]
    assert later[0].first.summary == "Add Q2 customers (v2: 3,500 customers)"
    assert [row.run.run_id for row in resp.context["rows"]] == [demo.run_ids["data-v1"]]
    body = resp.content.decode()
    assert "2 later versions of" in body
    assert f'href="/lineage/data/{later[1].data_version.pk}/"' in body


def test_the_page_names_the_commits_that_pin_the_version_and_links_its_history(
    viewer_client: Client, demo: Demo
) -> None:
    v1 = customers(demo, "v1")
    resp = viewer_client.get(f"/lineage/data/{v1.pk}/")
    timeline = resp.context["timeline"]
    assert timeline.first.summary == "Add customer snapshot v1 (2,000 customers)"
    assert timeline.last.summary == "Add Q2 customers (v2: 3,500 customers)"  # its prepare lock still pins v1
    body = resp.content.decode()
    assert f'href="/data/demo/commit/{timeline.first.sha}/"' in body
    assert 'href="/data/demo/history/?path=data%2Fcustomers.csv"' in body
    assert v1.hash_value in body


def test_the_page_says_when_a_serving_model_was_trained_on_replaced_data(viewer_client: Client, demo: Demo) -> None:
    ModelVersion.objects.filter(run__run_id=demo.run_ids["data-v1"]).update(stage="Production", aliases=["champion"])
    body = page(viewer_client, f"/lineage/data/{customers(demo, 'v1').pk}/")
    assert "1 model version in Production/Staging was trained on this version" in body
    assert "impact-replaced" in body and "since replaced" in body


def _more_runs(demo: Demo, dv: DataVersion, count: int) -> None:
    """``count`` more runs linked to ``dv``, each with a lineage and two model versions."""
    template = Run.objects.get(run_id=demo.run_ids["data-v3"])
    model = RegisteredModel.objects.get(name="churn-predictor")
    now = timezone.now()
    for i in range(count):
        run = Run.objects.create(
            source=template.source, experiment=template.experiment, run_id=f"{i:032x}", name=f"extra-{i}",
            start_time=now - timedelta(minutes=i),
        )  # fmt: skip
        RunLineage.objects.create(run=run, verdict=Verdict.COMPLETE, resolution="resolved", computed_at=now)
        LineageLink.objects.create(run=run, data_version=dv, path=dv.path, md5=dv.hash_value, evidence=["commit"])
        for n in (2 * i, 2 * i + 1):
            ModelVersion.objects.create(source=template.source, model=model, version=100 + n, run=run)


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_rows(
    viewer_client: Client, demo: Demo, django_assert_max_num_queries
) -> None:
    v3 = customers(demo, "v3")
    url = f"/lineage/data/{v3.pk}/"
    viewer_client.get(url)  # the session and permission caches are warm from here on
    with django_assert_max_num_queries(16) as few:
        viewer_client.get(url)
    _more_runs(demo, v3, 40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        resp = viewer_client.get(url)
    assert len(resp.context["rows"]) == 44


def test_the_page_pages_through_more_than_50_runs(viewer_client: Client, demo: Demo) -> None:
    v3 = customers(demo, "v3")
    _more_runs(demo, v3, 47)
    first = viewer_client.get(f"/lineage/data/{v3.pk}/")
    assert len(first.context["rows"]) == 50 and first.context["summary"].runs == 51
    assert "Page 1 of 2" in first.content.decode()
    assert len(viewer_client.get(f"/lineage/data/{v3.pk}/", {"page": 2}).context["rows"]) == 1


def test_an_unknown_data_version_is_a_404_saying_so(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get("/lineage/data/999999/")
    assert resp.status_code == 404
    assert "The mirror has no data version #999999" in resp.content.decode()


def test_the_pages_refuse_a_user_without_the_permission_and_a_post(
    nobody: User, viewer_client: Client, demo: Demo
) -> None:
    client = Client()
    client.force_login(nobody)
    url = f"/lineage/data/{customers(demo, 'v1').pk}/"
    assert client.get(url).status_code == 403
    assert client.get("/lineage/compare/").status_code == 403
    assert viewer_client.post(url).status_code == 405
    assert viewer_client.post("/lineage/compare/").status_code == 405


def test_the_data_page_escapes_hostile_paths_and_run_names(viewer_client: Client, demo: Demo) -> None:
    v3 = customers(demo, "v3")
    dv = DataVersion.objects.create(source=v3.source, path="data/<script>alert(1)</script>.csv", hash_value="f" * 32)
    _more_runs(demo, dv, 1)
    Run.objects.filter(name="extra-0").update(name="<img src=x onerror=alert(1)>")
    body = page(viewer_client, f"/lineage/data/{dv.pk}/")
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body


# --- compare -------------------------------------------------------------------------------------------------------
def mv(demo: Demo, label: str) -> str:
    return f"mv:churn-predictor/{demo.model_versions[label]}"


def test_compare_shows_the_changed_customers_md5_between_data_v1_and_data_v2(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get("/lineage/compare/", {"a": mv(demo, "data-v1"), "b": mv(demo, "data-v2")})
    assert resp.status_code == 200
    rows = {row.path: row for row in resp.context["cmp"].data}
    row = rows[CUSTOMERS]
    assert row.status == "changed"
    assert (row.a.md5, row.b.md5) == (demo.data_md5s["v1"], demo.data_md5s["v2"])
    body = resp.content.decode()
    assert demo.data_md5s["v1"][:10] in body and demo.data_md5s["v2"][:10] in body


def test_compare_lists_the_commits_between_the_two_lock_commits(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get("/lineage/compare/", {"a": mv(demo, "data-v1"), "b": mv(demo, "data-v2")})
    cmp = resp.context["cmp"]
    assert [c.summary for c in cmp.commits] == [
        "Add Q2 customers (v2: 3,500 customers)",
        "Retrain churn model on customers v2",
    ]
    sha = cmp.commits[0].sha
    assert f'href="/data/demo/commit/{sha}/"' in resp.content.decode()
    # The other way round lists the same commits and says B is the older.
    back = viewer_client.get("/lineage/compare/", {"a": mv(demo, "data-v2"), "b": mv(demo, "data-v1")}).context["cmp"]
    assert back.commits == cmp.commits and back.later_first


def test_compare_shows_the_tuned_params_and_the_train_stage_that_changed(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get("/lineage/compare/", {"a": mv(demo, "data-v3"), "b": mv(demo, "tuned")})
    cmp = resp.context["cmp"]
    changed = {d.key: (d.a, d.b) for d in cmp.params_changed}
    assert changed["n_estimators"] == ("40", "80") and changed["max_depth"] == ("6", "8")
    stages = {s.address: s for s in cmp.stages.changed}
    train = stages["train"]
    assert {(p.key, p.a, p.b) for p in train.params} == {("train.n_estimators", 40, 80), ("train.max_depth", 6, 8)}
    assert "prepare" in cmp.stages.same
    assert [d.path for d in cmp.data if d.status == "changed"] == []
    assert "Tune random forest: 80 trees, depth 8" in [c.summary for c in cmp.commits]


def test_compare_takes_run_ids_and_the_model_and_version_fields(viewer_client: Client, demo: Demo) -> None:
    by_runs = viewer_client.get(
        "/lineage/compare/", {"a": demo.run_ids["data-v1"], "b": f"run:{demo.run_ids['tuned']}"}
    )
    assert by_runs.status_code == 200
    assert by_runs.context["cmp"].b.run.run_id == demo.run_ids["tuned"]
    fields = {"model": "churn-predictor", "va": demo.model_versions["data-v1"], "vb": demo.model_versions["data-v2"]}
    by_fields = viewer_client.get("/lineage/compare/", fields)
    assert by_fields.context["cmp"].b.version.version == demo.model_versions["data-v2"]


def test_compare_says_which_ref_is_unknown(viewer_client: Client, demo: Demo) -> None:
    resp = viewer_client.get("/lineage/compare/", {"a": "mv:churn-predictor/99", "b": "run:" + "0" * 32})
    assert resp.status_code == 404
    body = resp.content.decode()
    assert "No version 99 of model “churn-predictor” in the mirror." in body
    assert "No run with id “" + "0" * 32 + "” in the mirror." in body


def test_compare_explains_two_runs_from_different_dvc_sources(viewer_client: Client, demo: Demo) -> None:
    lineage = RunLineage.objects.get(run__run_id=demo.run_ids["data-v1"])
    source = lineage.dvc_source
    other = type(source).objects.create(name="fork", location="/elsewhere")
    moved = Commit.objects.create(
        source=other, sha="a" * 40, authored_at=timezone.now(), committed_at=timezone.now(), position=1,
        snapshot=lineage.lock_commit.snapshot,
    )  # fmt: skip
    RunLineage.objects.filter(pk=lineage.pk).update(lock_commit=moved, commit=moved, dvc_source=other)
    resp = viewer_client.get("/lineage/compare/", {"a": mv(demo, "data-v1"), "b": mv(demo, "data-v2")})
    assert resp.context["cmp"].commits == []
    assert "trained from different DVC sources" in resp.content.decode()


def test_the_compare_form_offers_every_model_version(viewer_client: Client, demo: Demo) -> None:
    body = page(viewer_client, "/lineage/compare/")
    for number in demo.model_versions.values():
        assert f'value="mv:churn-predictor/{number}"' in body


def test_compare_escapes_hostile_params(viewer_client: Client, demo: Demo) -> None:
    Run.objects.filter(run_id=demo.run_ids["data-v2"]).update(
        params={"<script>k</script>": "<img src=x onerror=alert(1)>"}
    )
    body = page(viewer_client, f"/lineage/compare/?a={mv(demo, 'data-v1')}&b={mv(demo, 'data-v2')}")
    assert "<script>k" not in body and "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


# --- the diff functions on plain data ------------------------------------------------------------------------------
def test_value_diffs_say_added_removed_changed_and_the_metric_delta() -> None:
    diffs = {
        d.key: d for d in compare.diff_values({"auc": 0.8, "f1": 0.5, "x": "a"}, {"auc": 0.9, "loss": 1.0, "x": "a"})
    }
    assert diffs["auc"].status == "changed" and diffs["auc"].delta == pytest.approx(0.1)
    assert diffs["f1"].status == "removed" and diffs["loss"].status == "added" and diffs["x"].status == "same"
    assert diffs["x"].delta is None


def test_stage_diffs_compare_commands_hashes_and_nested_params() -> None:
    a = {"train": {"cmd": "python t.py", "deps": [{"path": "d", "md5": "1"}], "outs": [], "params": {"p.yaml": {"t": {"n": 1}}}},
         "old": {"cmd": "x"}}  # fmt: skip
    b = {"train": {"cmd": "python t.py --fast", "deps": [{"path": "d", "md5": "2"}], "outs": [], "params": {"p.yaml": {"t": {"n": 2}}}},
         "new": {"cmd": "y"}}  # fmt: skip
    diff = compare.diff_stages(a, b)
    by = {s.address: s for s in diff.changed}
    assert by["old"].status == "removed" and by["new"].status == "added"
    train = by["train"]
    assert train.cmd_changed and [(h.path, h.a, h.b) for h in train.deps] == [("d", "1", "2")]
    assert [(p.key, p.a, p.b) for p in train.params] == [("t.n", 1, 2)]


def test_compare_flags_data_the_run_contradicts_even_when_the_md5_is_the_same(
    viewer_client: Client, demo: Demo
) -> None:
    resp = viewer_client.get("/lineage/compare/", {"a": mv(demo, "tuned"), "b": mv(demo, "uncommitted-data")})
    row = next(row for row in resp.context["cmp"].data if row.path == CUSTOMERS)
    assert row.status == "same" and row.conflict and row.b.conflict and not row.a.conflict
    assert resp.context["cmp"].data[0].path == CUSTOMERS  # contradicted rows come first
    assert "same md5" in resp.content.decode()
