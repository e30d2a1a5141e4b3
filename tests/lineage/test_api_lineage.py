"""The lineage REST API on the synced churn demo, called the way a CI job calls it: with an API token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.core.tokens import api_token_create
from apps.dvc_sync.models import DataVersion
from apps.lineage.models import Evidence
from apps.mlflow_sync.models import ModelVersion
from tests.conftest import Demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(viewer: User) -> Client:
    _, key = api_token_create(user=viewer, name="ci-deploy-gate", created_by="admin")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_the_alias_receipt_names_the_production_version_and_its_verdict(demo: Demo, token_client: Client) -> None:
    response = token_client.get("/api/models/churn-predictor/aliases/production")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"model", "alias", "version", "run_id", "verdict", "lineage_url"}
    assert body["version"] == demo.aliases["production"] and isinstance(body["version"], int)
    assert (body["model"], body["alias"], body["verdict"]) == ("churn-predictor", "production", "complete")
    assert body["run_id"] == demo.run_ids["tuned"]
    assert body["lineage_url"] == f"http://testserver/lineage/models/churn-predictor/versions/{body['version']}/"
    staging = token_client.get("/api/models/churn-predictor/aliases/staging").json()
    assert staging["verdict"] == "conflict"


def test_an_alias_no_version_holds_is_a_404_with_a_json_message(demo: Demo, token_client: Client) -> None:
    response = token_client.get("/api/models/churn-predictor/aliases/champion")
    assert response.status_code == 404
    assert "holds the alias 'champion'" in response.json()["detail"]
    assert token_client.get("/api/models/no-such-model/aliases/production").status_code == 404


def test_the_lineage_of_a_version_lists_one_link_per_data_version_with_its_evidence(
    demo: Demo, token_client: Client
) -> None:
    version = demo.model_versions["verified-input"]
    body = token_client.get(f"/api/models/churn-predictor/versions/{version}/lineage").json()
    assert (body["model"], body["version"], body["run_id"]) == (
        "churn-predictor",
        version,
        demo.run_ids["verified-input"],
    )
    assert body["verdict"] == "complete"
    by_path = {link["path"]: link for link in body["links"]}
    customers = by_path["data/customers.csv"]
    assert customers["evidence"] == ["digest", "commit"] and customers["md5"] == demo.data_md5s["v3"]
    assert customers["repo"] == "demo" and len(customers["commit"]) == 40
    assert len(by_path) == len(body["links"])
    kinds = {node["kind"] for node in body["nodes"]}
    assert {"run", "model version", "raw data", "stage"} <= kinds
    assert any(edge["evidence"] == ["digest", "commit"] for edge in body["edges"])


def test_a_run_with_no_data_found_gets_one_missing_link(demo: Demo, token_client: Client) -> None:
    version = ModelVersion.objects.get(version=demo.model_versions["tuned"])
    version.run = None
    version.save(update_fields=["run"])
    body = token_client.get(f"/api/models/churn-predictor/versions/{version.version}/lineage/").json()
    assert body["verdict"] == "gaps"
    assert body["links"] == [
        {"repo": None, "path": None, "md5": None, "commit": None, "evidence": [Evidence.MISSING], "size": None,
         "detail": "No lineage is known for this run."}
    ]  # fmt: skip


def test_data_impact_lists_the_runs_and_the_serving_versions(demo: Demo, token_client: Client) -> None:
    v3 = DataVersion.objects.get(path="data/customers.csv", hash_value=demo.data_md5s["v3"])
    body = token_client.get(f"/api/data/{v3.pk}/impact").json()
    runs = {row["run_id"] for row in body["runs"]}
    assert {demo.run_ids[k] for k in ("data-v3", "tuned", "verified-input", "uncommitted-data")} <= runs
    assert {(v["version"], v["serving"]) for v in body["serving"]} == {
        (demo.aliases["production"], True),
        (demo.aliases["staging"], True),
    }
    v1 = DataVersion.objects.get(path="data/customers.csv", hash_value=demo.data_md5s["v1"])
    later = token_client.get(f"/api/data/{v1.pk}/impact").json()["later_versions"]
    assert [d["md5"] for d in later] == [demo.data_md5s["v2"], demo.data_md5s["v3"]]
    found = token_client.get("/api/data/", {"md5": demo.data_md5s["v1"][:6]}).json()
    assert [d["path"] for d in found["results"]] == ["data/customers.csv"]


def test_runs_list_with_verdicts_and_a_runs_lineage(demo: Demo, token_client: Client) -> None:
    body = token_client.get("/api/runs/", {"verdict": "conflict"}).json()
    assert [r["run_id"] for r in body["results"]] == [demo.run_ids["uncommitted-data"]]
    lineage = token_client.get(f"/api/runs/{demo.run_ids['data-v1']}/lineage").json()
    assert lineage["repro_rule"] == "marker" and lineage["verdict"] == "complete"
    assert token_client.get("/api/runs/nope/lineage").status_code == 404


def test_search_groups_hits_by_kind(demo: Demo, token_client: Client) -> None:
    body = token_client.get("/api/search/", {"q": demo.data_md5s["v2"][:8]}).json()
    assert body["groups"] and all(group["hits"] for group in body["groups"])


def test_anonymous_calls_get_401_and_users_without_the_role_403(demo: Demo, nobody: User) -> None:
    anonymous = Client().get("/api/models/churn-predictor/aliases/production")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
    _, key = api_token_create(user=nobody, name="x", created_by="admin")
    refused = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/models/churn-predictor/aliases/production")
    assert refused.status_code == 403


def test_the_schema_documents_the_lineage_endpoints(viewer_client: Client) -> None:
    schema = viewer_client.get("/api/schema/").json()
    assert "/api/models/{name}/aliases/{alias}" in schema["paths"] or any("aliases" in path for path in schema["paths"])
