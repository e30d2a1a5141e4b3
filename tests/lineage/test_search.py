"""The search box: hits grouped by kind in a fixed order, from the mirrors' providers and the lineage one (model
versions with their verdict, data versions to their impact page, tags), escaped and filtered by permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from apps.core.registry import SearchHit
from apps.core.selectors import SEARCH_KIND_ORDER
from apps.dvc_sync.models import Commit, DataVersion, Ref
from apps.mlflow_sync.models import Run
from tests.conftest import Demo, _user

pytestmark = pytest.mark.django_db


def search(client: Client, text: str) -> dict[str, list[SearchHit]]:
    resp = client.get("/search/", {"q": text})
    assert resp.status_code == 200
    return {group["name"]: group["hits"] for group in resp.context["groups"]}


def urls(hits: list[SearchHit]) -> list[str]:
    return [hit.url for hit in hits]


def test_an_md5_prefix_finds_the_data_version_and_opens_its_impact_page(viewer_client: Client, demo: Demo) -> None:
    v3 = DataVersion.objects.get(hash_value=demo.data_md5s["v3"])
    found = search(viewer_client, demo.data_md5s["v3"][:6])
    [hit] = found["Data versions"]
    assert hit.url == f"/lineage/data/{v3.pk}/"
    assert hit.title == f"data/customers.csv @ {v3.short_hash}"
    assert "demo" in hit.detail and "trained 4 runs" in hit.detail
    assert urls(found["Data paths"]) == ["/data/demo/history/?path=data%2Fcustomers.csv"]


def test_a_path_lists_each_version_once_and_the_path_once(viewer_client: Client, demo: Demo) -> None:
    found = search(viewer_client, "customers.csv")
    versions = {hit.url for hit in found["Data versions"]}
    assert versions == {f"/lineage/data/{dv.pk}/" for dv in DataVersion.objects.filter(path="data/customers.csv")}
    assert len(versions) == 3 == len(found["Data versions"])
    assert urls(found["Data paths"]) == ["/data/demo/history/?path=data%2Fcustomers.csv"]


def test_a_commit_prefix_finds_the_commit(viewer_client: Client, demo: Demo) -> None:
    commit = Commit.objects.get(message__startswith="Tune random forest")
    found = search(viewer_client, commit.sha[:7])
    assert f"/data/demo/commit/{commit.sha}/" in urls(found["Commits"])


def test_the_model_name_finds_the_model_and_every_version_with_its_verdict(viewer_client: Client, demo: Demo) -> None:
    found = search(viewer_client, "churn-predictor")
    assert [hit.title for hit in found["Models"]] == ["churn-predictor"]
    titles = {hit.title: hit for hit in found["Model versions"]}
    assert set(titles) == {f"churn-predictor v{n}" for n in demo.model_versions.values()}
    production = titles[f"churn-predictor v{demo.aliases['production']}"]
    assert production.url == f"/lineage/models/churn-predictor/versions/{demo.aliases['production']}/"
    assert "verdict: complete" in production.detail and "@production" in production.detail
    assert "verdict: conflict" in titles[f"churn-predictor v{demo.aliases['staging']}"].detail


@pytest.mark.parametrize("text", ["churn-predictor v3", "churn-predictor/3", "churn-predictor 3"])
def test_a_name_and_number_finds_that_version(viewer_client: Client, demo: Demo, text: str) -> None:
    assert [hit.title for hit in search(viewer_client, text)["Model versions"]] == ["churn-predictor v3"]


def test_a_run_id_finds_the_run_and_its_model_version(viewer_client: Client, demo: Demo) -> None:
    run = Run.objects.get(run_id=demo.run_ids["tuned"])
    found = search(viewer_client, run.run_id)
    assert urls(found["Runs"]) == [f"/mlflow/runs/{run.pk}/"]
    assert [hit.title for hit in found["Model versions"]] == [f"churn-predictor v{demo.model_versions['tuned']}"]


def test_groups_come_in_the_fixed_order_of_kinds(viewer_client: Client, demo: Demo) -> None:
    Run.objects.filter(run_id=demo.run_ids["data-v1"]).update(name="churn-baseline", tags={"team": "churn"})
    names = list(search(viewer_client, "churn"))
    assert {"Model versions", "Models", "Runs", "Experiments", "Tags"} <= set(names)
    assert names == sorted(names, key=SEARCH_KIND_ORDER.index)


def test_a_run_tag_is_one_hit_leading_to_the_runs_that_carry_it(viewer_client: Client, demo: Demo) -> None:
    for label in ("data-v1", "data-v2"):
        run = Run.objects.get(run_id=demo.run_ids[label])
        run.tags = {**run.tags, "owner's team": "churn-squad"}
        run.save()
    [hit] = search(viewer_client, "churn-squad")["Tags"]
    assert hit.title == "owner's team=churn-squad" and "2 runs" in hit.detail
    listed = viewer_client.get(hit.url).content.decode()
    assert "data-v1" in listed and "data-v2" in listed and "data-v3" not in listed


def test_git_and_gto_tags_are_found_by_name(viewer_client: Client, demo: Demo) -> None:
    commit = Commit.objects.get(message__startswith="Tune random forest")
    Ref.objects.create(source=commit.source, kind=Ref.Kind.TAG, name="release-tuned", sha=commit.sha, commit=commit)
    [hit] = search(viewer_client, "release-tun")["Tags"]
    assert hit.url == f"/data/demo/commit/{commit.sha}/" and "git tag" in hit.detail


def test_hostile_paths_and_run_names_are_escaped(viewer_client: Client, demo: Demo) -> None:
    v3 = DataVersion.objects.get(hash_value=demo.data_md5s["v3"])
    DataVersion.objects.create(source=v3.source, path="data/<script>alert(1)</script>.csv", hash_value="c0ffee" * 5)
    Run.objects.filter(run_id=demo.run_ids["data-v1"]).update(name="<img src=x onerror=alert(1)>")
    for text in ("<script>", "c0ffee", "onerror"):
        body = viewer_client.get("/search/", {"q": text}).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in viewer_client.get("/search/", {"q": "onerror"}).content.decode()
    body = viewer_client.get("/search/", {"q": "c0ffee"}).content.decode()
    assert "data/&lt;script&gt;alert(1)&lt;/script&gt;.csv" in body


def test_search_shows_only_what_the_user_may_open(nobody: User, demo: Demo) -> None:
    client = Client()
    client.force_login(nobody)
    assert search(client, "churn-predictor") == {}
    models_only = _user("mona")
    models_only.user_permissions.add(Permission.objects.get(codename="view_registeredmodel"))
    client.force_login(models_only)
    assert list(search(client, "churn-predictor")) == ["Models"]
