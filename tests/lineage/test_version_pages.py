"""The model version page, its graph, the run's lineage fragment and the home page's models, on the real churn demo
(git + DVC + MLflow built once per session) and on hostile mirror rows made with the ORM."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.lineage import figures
from apps.lineage.models import LineageLink, RunLineage
from apps.mlflow_sync.models import Experiment, MlflowSource, ModelVersion, RegisteredModel, Run
from tests.conftest import Demo

MODEL = "churn-predictor"


def _page(name: str, version: int) -> str:
    return f"/lineage/models/{name}/versions/{version}/"


def _version(demo: Demo, label: str) -> ModelVersion:
    return ModelVersion.objects.select_related("run").get(model__name=MODEL, version=demo.model_versions[label])


def _text(html: str) -> str:
    """The page's words without tags, whitespace collapsed, for asserting on what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _evidence_order(html: str, path: str) -> list[str]:
    """The evidence badges of the data table's row for ``path``, in the order shown."""
    row = next(r for r in html.split("<tr") if f">{path}</a>" in r and "evidence-list" in r)
    return re.findall(r'class="evidence evidence-([\w-]+)"', row)


# -- the model version page -----------------------------------------------------------------------------------


def test_it_shows_the_production_version_complete_with_its_data_run_and_repro_rule(
    demo: Demo, viewer_client: Client
) -> None:
    mv = _version(demo, "tuned")
    lineage = RunLineage.objects.select_related("lock_commit").get(run=mv.run)
    response = viewer_client.get(_page(MODEL, mv.version))
    html = response.content.decode()
    text = _text(html)
    assert response.status_code == 200
    assert 'class="verdict verdict-complete verdict-big"' in html
    assert "Production" in text and "@production" in text
    for path in ("data/customers.csv", "data/prepared", "data/features"):
        assert f">{path}</a>" in html
        assert _evidence_order(html, path) == ["commit"]
    assert f"/mlflow/runs/{mv.run.pk}/" in html
    assert "test_roc_auc" in text
    # A dvc repro run: the later commit's dvc.lock describes it, by the marker rule.
    assert f'/data/demo/commit/{lineage.lock_commit.sha}/"' in html
    assert "Made by dvc repro" in text and "marker" in text
    assert "MLflow keeps no history of stage and alias moves" in text


def test_it_shows_the_staging_version_in_conflict_with_the_problem_in_words(demo: Demo, viewer_client: Client) -> None:
    mv = _version(demo, "uncommitted-data")
    html = viewer_client.get(_page(MODEL, mv.version)).content.decode()
    text = _text(html)
    assert 'class="verdict verdict-conflict verdict-big"' in html
    assert f"Conflict: the run logged data/customers.csv with digest {demo.data_md5s['uncommitted']}" in text
    assert demo.data_md5s["v3"] in text
    assert _evidence_order(html, "data/customers.csv") == ["commit", "conflict"]
    assert "not the committed version" in text  # the link's detail


def test_it_lists_a_verified_digest_before_the_commit(demo: Demo, viewer_client: Client) -> None:
    mv = _version(demo, "verified-input")
    html = viewer_client.get(_page(MODEL, mv.version)).content.decode()
    assert _evidence_order(html, "data/customers.csv") == ["digest", "commit"]
    assert f'title="{demo.data_md5s["v3"]}"' in html  # the full md5 behind the short one


def test_it_answers_an_unknown_version_or_model_with_a_404_that_says_so(demo: Demo, viewer_client: Client) -> None:
    response = viewer_client.get(_page(MODEL, 99))
    assert response.status_code == 404
    text = _text(response.content.decode())
    assert f"No version 99 of model “{MODEL}”" in text
    assert f'href="{_page(MODEL, demo.model_versions["tuned"])}"' in response.content.decode()
    response = viewer_client.get(_page("no-such-model", 1))
    assert response.status_code == 404
    assert "No registered model called “no-such-model”" in _text(response.content.decode())
    assert viewer_client.get(_page(MODEL, 99) + "graph.json").status_code == 404


def test_it_lets_a_viewer_in_and_refuses_a_user_without_a_role(demo: Demo, viewer_client: Client, nobody) -> None:
    mv = _version(demo, "tuned")
    outsider = Client()
    outsider.force_login(nobody)
    for url in (_page(MODEL, mv.version), _page(MODEL, mv.version) + "graph.json", f"/lineage/runs/{mv.run.pk}/"):
        assert viewer_client.get(url).status_code == 200, url
        assert outsider.get(url).status_code == 403, url
    assert viewer_client.post(_page(MODEL, mv.version)).status_code == 405


def test_its_query_count_does_not_grow_with_the_links(
    demo: Demo, viewer_client: Client, django_assert_max_num_queries
) -> None:
    counts = {}
    for label in ("tuned", "uncommitted-data"):  # 3 links and 6 links
        mv = _version(demo, label)
        assert LineageLink.objects.filter(run=mv.run).count() == (3 if label == "tuned" else 6)
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(_page(MODEL, mv.version)).status_code == 200
        counts[label] = len(queries)
    assert counts["tuned"] == counts["uncommitted-data"], counts
    with django_assert_max_num_queries(15):
        viewer_client.get(_page(MODEL, demo.model_versions["uncommitted-data"]))
    with django_assert_max_num_queries(15):
        viewer_client.get(f"/lineage/runs/{_version(demo, 'uncommitted-data').run.pk}/")
    with django_assert_max_num_queries(25):  # core's own overview counts and sources, then the models panel's 3
        viewer_client.get("/")


# -- the graph ------------------------------------------------------------------------------------------------


def test_its_graph_runs_from_raw_data_through_the_stages_to_the_version(demo: Demo, viewer_client: Client) -> None:
    mv = _version(demo, "tuned")
    body = viewer_client.get(_page(MODEL, mv.version) + "graph.json").json()
    ids = {node["id"] for node in body["nodes"]}
    assert {"stage:prepare", "stage:featurize", "data:data/customers.csv", f"model:{mv.pk}"} <= ids
    edges = {(edge["source"], edge["target"]) for edge in body["edges"]}
    assert ("data:data/customers.csv", "stage:prepare") in edges
    assert (f"run:{mv.run.run_id}", f"model:{mv.pk}") in edges
    # Every node links to a page of this site (customdata), and the run's data edge shows its evidence.
    links = [url for trace in body["figure"]["data"] for url in trace.get("customdata", [])]
    assert links and all(url.startswith("/") and not url.startswith("//") for url in links)
    assert "evidence: commit" in {trace["name"] for trace in body["figure"]["data"]}


def test_its_graph_draws_a_conflicting_link_as_a_conflict(demo: Demo, viewer_client: Client) -> None:
    body = viewer_client.get(_page(MODEL, demo.model_versions["uncommitted-data"]) + "graph.json").json()
    conflict = next(t for t in body["figure"]["data"] if t["name"] == "evidence: conflict")
    assert len([x for x in conflict["x"] if x is not None]) >= 2


# -- the run's lineage fragment and the home page --------------------------------------------------------------


def test_the_run_page_loads_the_runs_lineage_fragment(demo: Demo, viewer_client: Client) -> None:
    run = _version(demo, "tuned").run
    page = viewer_client.get(f"/mlflow/runs/{run.pk}/").content.decode()
    assert f'data-partial-url="/lineage/runs/{run.pk}/"' in page
    fragment = viewer_client.get(f"/lineage/runs/{run.pk}/")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert 'class="verdict verdict-complete verdict-big"' in html
    assert f'data-url="/lineage/runs/{run.pk}/graph.json"' in html
    assert ">data/features</a>" in html and "Made by dvc repro" in _text(html)
    body = viewer_client.get(f"/lineage/runs/{run.pk}/graph.json").json()
    assert "stage:featurize" in {node["id"] for node in body["nodes"]}
    assert viewer_client.get("/lineage/runs/999999/").status_code == 404


def test_home_shows_each_models_production_and_staging_verdicts_and_the_gaps(demo: Demo, viewer_client: Client) -> None:
    html = viewer_client.get("/").content.decode()
    production, staging = demo.aliases["production"], demo.aliases["staging"]
    model = RegisteredModel.objects.get(name=MODEL)
    assert f'href="/mlflow/models/{model.pk}/"' in html
    row = html[html.index('class="table serving"') :]
    prod_cell = row[row.index(f'href="{_page(MODEL, production)}"') :]
    assert prod_cell.index("verdict-complete") < prod_cell.index("</td>")
    staging_cell = row[row.index(f'href="{_page(MODEL, staging)}"') :]
    assert staging_cell.index("verdict-conflict") < staging_cell.index("</td>")
    gaps = html[html.index("Lineage gaps") :]
    assert f'href="{_page(MODEL, staging)}"' in gaps
    assert f'href="{_page(MODEL, production)}"' not in gaps


# -- hostile strings, several sources, links out (mirror rows made with the ORM) ---------------------------------

SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'


def _mirror(source_name: str, *, model: str = "m", description: str = "", hostile: bool = False) -> ModelVersion:
    source = MlflowSource.objects.create(name=source_name, tracking_uri=f"sqlite:////tmp/{source_name}.db")
    experiment = Experiment.objects.create(source=source, experiment_id="1", name=SCRIPT if hostile else "exp")
    run = Run.objects.create(
        source=source,
        run_id=f"run-{source_name}",
        experiment=experiment,
        name=SCRIPT if hostile else "run",
        params={IMG: SCRIPT} if hostile else {"alpha": "1"},
        metrics={"roc_auc": 0.9},
        tags={"note": IMG} if hostile else {},
        git_commit="0123456789abcdef0123456789abcdef01234567",
        git_branch=IMG if hostile else "main",
        git_repo_url=IMG if hostile else "",
    )
    RunLineage.objects.create(
        run=run,
        verdict="gaps",
        resolution="unknown",
        commit_sha=run.git_commit,
        commit_key="mlflow.source.git.commit",
        problems=[f"Commit {SCRIPT} is in no synced DVC source."],
        unmatched_inputs=[{"name": IMG, "digest": SCRIPT, "source": IMG}] if hostile else [],
        computed_at=timezone.now(),
    )
    LineageLink.objects.create(run=run, path=IMG if hostile else "", evidence=["missing"], detail=SCRIPT)
    registered = RegisteredModel.objects.create(source=source, name=model, aliases={IMG: "1"} if hostile else {})
    return ModelVersion.objects.create(
        source=source,
        model=registered,
        version=1,
        mlflow_run_id=run.run_id,
        run=run,
        aliases=[IMG] if hostile else [],
        description=description or (SCRIPT if hostile else ""),
        user_id=IMG if hostile else "u",
        tags={SCRIPT: IMG} if hostile else {},
    )


def test_it_escapes_hostile_strings_from_mlflow(viewer_client: Client) -> None:
    mv = _mirror("hostile", model=f"m{SCRIPT}", hostile=True)
    for url in (_page(mv.model.name, 1), f"/lineage/runs/{mv.run.pk}/", "/"):
        response = viewer_client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "<script>alert" not in html and "<img src=x" not in html, url
    page = viewer_client.get(_page(mv.model.name, 1)).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    figure = json.dumps(viewer_client.get(_page(mv.model.name, 1) + "graph.json").json()["figure"])
    assert "<script>" not in figure and "<img" not in figure
    assert "&lt;script&gt;" in figure


def test_it_picks_the_source_named_when_several_have_the_model(viewer_client: Client) -> None:
    _mirror("alpha", description="from alpha")
    _mirror("beta", description="from beta")
    first = _text(viewer_client.get(_page("m", 1)).content.decode())
    assert "from alpha" in first and "also has a version 1 in beta" in first
    chosen = viewer_client.get(_page("m", 1) + "?source=beta")
    assert "from beta" in _text(chosen.content.decode())
    assert viewer_client.get(_page("m", 1) + "?source=gamma").status_code == 404


def test_it_links_out_to_mlflow_and_the_git_web_ui_only_when_configured(viewer_client: Client) -> None:
    if not hasattr(MlflowSource, "model_version_ui_url"):
        pytest.skip("MlflowSource.ui_url is not in this checkout yet")
    mv = _mirror("links")
    assert "Open in MLflow" not in viewer_client.get(_page("m", 1)).content.decode()
    MlflowSource.objects.filter(pk=mv.source_id).update(ui_url="https://mlflow.example.com")
    html = viewer_client.get(_page("m", 1)).content.decode()
    assert 'href="https://mlflow.example.com/#/models/m/versions/1"' in html
    assert 'href="https://mlflow.example.com/#/experiments/1/runs/run-links"' in html


# -- the figure's rules (pure) ----------------------------------------------------------------------------------


def test_a_conflict_or_a_gap_is_drawn_over_stronger_evidence() -> None:
    assert figures.edge_style(["digest", "commit"]) == "digest"
    assert figures.edge_style(["commit", "conflict"]) == "conflict"
    assert figures.edge_style(["commit", "missing"]) == "missing"


def test_a_node_only_links_to_a_page_of_this_site() -> None:
    assert figures.same_site("/lineage/data/3/") == "/lineage/data/3/"
    for url in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", None):
        assert figures.same_site(url) == ""


def test_the_version_page_offers_to_compare_with_the_models_other_versions(demo: Demo, viewer_client: Client) -> None:
    tuned, v1 = demo.model_versions["tuned"], demo.model_versions["data-v1"]
    page = viewer_client.get(f"/lineage/models/churn-predictor/versions/{tuned}/").content.decode()
    assert f'name="a" value="mv:churn-predictor/{tuned}"' in page
    assert f'<option value="mv:churn-predictor/{v1}">version {v1}</option>' in page
    compare = viewer_client.get(
        "/lineage/compare/", {"a": f"mv:churn-predictor/{tuned}", "b": f"mv:churn-predictor/{v1}"}
    )
    assert compare.status_code == 200 and demo.data_md5s["v1"][:8] in compare.content.decode()


def test_it_shows_the_first_25_links_conflicts_first_and_offers_all(
    viewer_client: Client, django_assert_max_num_queries
) -> None:
    mv = _mirror("many-links")
    LineageLink.objects.bulk_create(
        LineageLink(run=mv.run, path=f"data/part-{n:03}.csv", md5=f"{n:032x}", position=n + 1,
                    evidence=["conflict", "commit"] if n == 70 else ["digest"])
        for n in range(80)
    )  # fmt: skip
    with django_assert_max_num_queries(15):
        resp = viewer_client.get(_page(mv.model.name, 1))
    rows = resp.context["link_rows"]
    assert len(rows) == 25 and resp.context["links_total"] == 81
    assert [r["link"].path for r in rows[:3]] == ["", "data/part-070.csv", "data/part-000.csv"]  # missing, conflict
    html = resp.content.decode()
    assert "Show all 81 data versions" in html and 'href="?links=all#data-versions"' in html
    everything = viewer_client.get(_page(mv.model.name, 1), {"links": "all"})
    assert len(everything.context["link_rows"]) == 81 and "Show all" not in everything.content.decode()
