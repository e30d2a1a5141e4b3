"""The join on real data: the churn demo (real git, DVC, ``dvc repro`` and MLflow) plus runs made with MLflow's own
client in a store of their own, each naming the demo's commits the way a team's training code would."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from mlflow.entities import Dataset, DatasetInput
from mlflow.tracking import MlflowClient

from apps.core.services import sync_source
from apps.dvc_sync.services import dvc_source_add
from apps.lineage.models import LineageLink, ReproRule, Resolution, RunLineage
from apps.lineage.services import lineage_rebuild
from apps.mlflow_sync.models import MlflowSource, ModelVersion, Run
from apps.mlflow_sync.services import mlflow_source_add
from tests.conftest import Demo, MlflowStore, sync_demo

pytestmark = pytest.mark.django_db

TUNE = "Tune random forest: 80 trees, depth 8"
TUNED = "Retrain churn model with 80 trees, depth 8"
V3 = "Fix Q2 monthly_charges exported in cents (v3)"
PIPELINE_DATA = {"data/customers.csv", "data/prepared", "data/features"}


def sha_of(repo: Path, message: str) -> str:
    out = subprocess.run(
        ["git", "log", "--all", "--format=%H %s"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    return next(line.split(" ", 1)[0] for line in out.splitlines() if line.split(" ", 1)[1] == message)


def lineage_of(run_id: str) -> RunLineage:
    return RunLineage.objects.select_related("run").get(run__run_id=run_id)


def links_of(run_id: str) -> dict[str, list[str]]:
    return {link.path: link.evidence for link in LineageLink.objects.filter(run__run_id=run_id)}


class Lab:
    """A team's own MLflow store (a copy of the test template) where a test makes runs with MLflow's client."""

    def __init__(self, store: MlflowStore) -> None:
        self.client = MlflowClient(store.uri, store.uri)
        self.experiment = self.client.create_experiment("lineage-lab")
        self.source: MlflowSource = mlflow_source_add(name="lab", tracking_uri=store.uri)[0]

    def run(self, tags: dict[str, str], *, params: dict[str, str] | None = None, inputs: tuple = ()) -> str:
        run = self.client.create_run(self.experiment, tags=tags)
        rid = run.info.run_id
        for key, value in (params or {}).items():
            self.client.log_param(rid, key, value)
        if inputs:
            self.client.log_inputs(
                rid,
                datasets=[
                    DatasetInput(Dataset(name=name, digest=digest, source_type="local", source=source))
                    for name, digest, source in inputs
                ],
            )
        self.client.set_terminated(rid, "FINISHED")
        return rid

    def sync(self) -> None:
        run = sync_source(kind="mlflow", source_id=self.source.pk)
        assert run.status == "succeeded", run.error


@pytest.fixture
def lab(mlflow_store: MlflowStore, demo: Demo) -> Lab:
    return Lab(mlflow_store)


def test_the_demos_pipeline_runs_are_described_by_the_next_dvc_lock(demo: Demo) -> None:
    for label, data in (("data-v1", "v1"), ("data-v2", "v2"), ("data-v3", "v3"), ("tuned", "v3")):
        lineage = lineage_of(demo.run_ids[label])
        assert (lineage.verdict, lineage.repro_rule, lineage.stage) == ("complete", ReproRule.MARKER, "train")
        # The run sits one commit before the one whose dvc.lock records it.
        assert lineage.lock_commit is not None and lineage.commit is not None
        assert lineage.commit.sha in lineage.lock_commit.parents
        links = LineageLink.objects.filter(run=lineage.run)
        assert {link.path for link in links} == PIPELINE_DATA
        assert links.get(path="data/customers.csv").md5 == demo.data_md5s[data]
        assert all(link.evidence == ["commit"] for link in links)


def test_a_run_that_logged_its_committed_data_is_verified_by_digest(demo: Demo) -> None:
    lineage = lineage_of(demo.run_ids["verified-input"])
    assert lineage.verdict == "complete" and lineage.repro_rule == ""
    assert links_of(demo.run_ids["verified-input"])["data/customers.csv"] == ["digest", "commit"]


def test_a_run_on_uncommitted_data_is_a_conflict_naming_both_md5s(demo: Demo) -> None:
    lineage = lineage_of(demo.run_ids["uncommitted-data"])
    assert lineage.verdict == "conflict"
    assert links_of(demo.run_ids["uncommitted-data"])["data/customers.csv"] == ["commit", "conflict"]
    assert demo.data_md5s["uncommitted"] in lineage.problems[0] and demo.data_md5s["v3"] in lineage.problems[0]


def test_a_run_made_by_dvc_repro_without_a_marker_is_matched_by_its_upstream_data(demo: Demo, lab: Lab) -> None:
    rid = lab.run({"mlflow.source.git.commit": sha_of(demo.repo, TUNE), "mlflow.source.name": "src/train.py"})
    lab.sync()
    lineage = lineage_of(rid)
    assert (lineage.verdict, lineage.repro_rule, lineage.stage) == ("complete", ReproRule.UPSTREAM, "train")
    assert lineage.lock_commit is not None and lineage.lock_commit.sha == sha_of(demo.repo, TUNED)
    assert set(links_of(rid)) == PIPELINE_DATA


def test_a_repro_run_whose_lock_is_not_committed_yet_waits_and_is_joined_after_the_commit(
    demo: Demo, mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    repo = tmp_path / "churn"
    shutil.copytree(demo.repo, repo, symlinks=True)
    source = dvc_source_add(name="churn", location=str(repo))[0]
    assert sync_source(kind="dvc", source_id=source.pk).status == "succeeded"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    lab = Lab(mlflow_store)
    rid = lab.run(
        {
            "mlflow.source.git.commit": head,
            "mlflow.source.name": "src/train.py",
            "mlflow.source.git.repoURL": str(repo),
        }
    )
    lab.sync()
    lineage = lineage_of(rid)
    assert (lineage.verdict, lineage.repro_rule) == ("gaps", ReproRule.PENDING)
    assert "no later commit's dvc.lock records it yet" in lineage.problems[0]

    # The team commits the lock the run wrote: the model changed, the data did not.
    lock = repo / "dvc.lock"
    lines = lock.read_text().splitlines(keepends=True)
    out = next(i for i, line in enumerate(lines) if line.strip() == "- path: models/model.pkl")
    md5_line = next(i for i in range(out, len(lines)) if lines[i].strip().startswith("md5:"))
    lines[md5_line] = lines[md5_line].split("md5:")[0] + "md5: " + hashlib.md5(b"retrained").hexdigest() + "\n"
    lock.write_text("".join(lines))
    subprocess.run(["git", "commit", "-qam", "Retrain"], cwd=repo, check=True)
    assert sync_source(kind="dvc", source_id=source.pk).status == "succeeded"

    lineage = lineage_of(rid)
    assert lineage.repro_rule == ReproRule.UPSTREAM and lineage.verdict == "complete", lineage.problems


def test_an_unknown_commit_and_no_commit_are_gaps_saying_why(demo: Demo, lab: Lab) -> None:
    unknown = lab.run({"mlflow.source.git.commit": "f" * 40})
    bare = lab.run({})
    lab.sync()
    assert (lineage_of(unknown).verdict, lineage_of(unknown).resolution) == ("gaps", Resolution.UNKNOWN)
    assert links_of(unknown) == {"": ["missing"]}
    assert "is in no synced DVC source" in lineage_of(unknown).problems[0]
    assert (lineage_of(bare).verdict, lineage_of(bare).resolution) == ("gaps", Resolution.NO_COMMIT)


def test_a_data_commit_tag_links_the_data_repo_when_the_code_repo_is_another(demo: Demo, lab: Lab) -> None:
    rid = lab.run(
        {"mlflow.source.git.commit": "a" * 40, "data_git_commit_id": sha_of(demo.repo, V3)},
    )
    by_param = lab.run({}, params={"dvc_commit": sha_of(demo.repo, V3)})
    lab.sync()
    for run_id in (rid, by_param):
        lineage = lineage_of(run_id)
        assert lineage.verdict == "complete" and lineage.resolution == Resolution.RESOLVED
        assert links_of(run_id)["data/customers.csv"] == ["data-commit"]


def test_a_dirty_work_tree_makes_the_commit_evidence_probable(demo: Demo, lab: Lab) -> None:
    rid = lab.run({"mlflow.source.git.commit": sha_of(demo.repo, V3), "mlflow.source.git.dirty": "true"})
    lab.sync()
    assert lineage_of(rid).verdict == "probable"
    assert set(map(tuple, links_of(rid).values())) == {("commit-dirty",)}


def test_a_sha_in_two_sources_is_ambiguous_unless_the_repository_url_picks_one(
    demo: Demo, lab: Lab, tmp_path: Path
) -> None:
    fork = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", str(demo.repo), str(fork)], check=True)
    source = dvc_source_add(name="fork", location=str(fork))[0]
    assert sync_source(kind="dvc", source_id=source.pk).status == "succeeded"
    sha = sha_of(demo.repo, V3)
    ambiguous = lab.run({"mlflow.source.git.commit": sha, "mlflow.source.git.repoURL": "https://example.com/x.git"})
    picked = lab.run({"mlflow.source.git.commit": sha, "mlflow.source.git.repoURL": f"file://{fork}/"})
    lab.sync()
    lineage = lineage_of(ambiguous)
    assert (lineage.verdict, lineage.resolution, lineage.candidates) == ("gaps", "ambiguous", ["demo", "fork"])
    assert "several DVC sources (demo, fork)" in lineage.problems[0]
    chosen = lineage_of(picked)
    assert chosen.verdict == "complete" and chosen.dvc_source == source

    # The admin's web URL of a source names its repository too: a clone's run reports its origin's URL.
    source.web_url = "https://github.com/acme/churn-fork"
    source.save(update_fields=["web_url"])
    by_web = lab.run(
        {"mlflow.source.git.commit": sha, "mlflow.source.git.repoURL": "git@github.com:acme/churn-fork.git"}
    )
    lab.sync()
    assert lineage_of(by_web).dvc_source == source and lineage_of(by_web).verdict == "complete"


def test_dataset_inputs_match_by_path_anywhere_by_digest_or_stay_unmatched(demo: Demo, lab: Lab) -> None:
    sha = sha_of(demo.repo, V3)
    v1, v3 = demo.data_md5s["v1"], demo.data_md5s["v3"]
    elsewhere = lab.run(
        {"mlflow.source.git.commit": sha},
        inputs=(("customers", v3, '{"uri": "/mnt/ci/checkout/data/customers.csv"}'),),
    )
    autologged = lab.run({"mlflow.source.git.commit": sha}, inputs=(("train", "9c1185a5", '{"uri": "memory"}'),))
    old_copy = lab.run({"mlflow.source.git.commit": sha}, inputs=(("old", v1, '{"uri": "s3://bucket/cust.csv"}'),))
    digest_only = lab.run({}, inputs=(("customers", v1, '{"uri": "s3://bucket/cust.csv"}'),))
    lab.sync()
    assert links_of(elsewhere)["data/customers.csv"] == ["digest", "commit"]
    assert lineage_of(autologged).verdict == "complete"
    assert lineage_of(autologged).unmatched_inputs == [
        {"name": "train", "digest": "9c1185a5", "source": '{"uri": "memory"}'}
    ]
    assert lineage_of(old_copy).verdict == "conflict"
    assert links_of(old_copy)["data/customers.csv"] == ["commit", "conflict"]
    assert lineage_of(digest_only).verdict == "complete"
    assert links_of(digest_only) == {"data/customers.csv": ["digest"]}


def test_every_sync_recomputes_what_changed_and_a_rebuild_changes_nothing(demo: Demo, lab: Lab) -> None:
    rid = lab.run({"mlflow.source.git.commit": sha_of(demo.repo, V3)})
    lab.sync()
    assert lineage_of(rid).verdict == "complete"
    lab.client.set_tag(rid, "mlflow.source.git.dirty", "true")
    lab.sync()
    assert lineage_of(rid).verdict == "probable"
    before = sorted(RunLineage.objects.values_list("run__run_id", "verdict", "repro_rule", "commit_id"))
    links = sorted(LineageLink.objects.values_list("run__run_id", "path", "md5", "evidence"))
    assert lineage_rebuild() == Run.objects.count()
    assert sorted(RunLineage.objects.values_list("run__run_id", "verdict", "repro_rule", "commit_id")) == before
    assert sorted(LineageLink.objects.values_list("run__run_id", "path", "md5", "evidence")) == links


def test_a_model_version_whose_logged_model_was_dirty_is_probable(demo_template: Demo, db: None) -> None:
    sync_demo(demo_template)
    version = ModelVersion.objects.get(version=demo_template.model_versions["data-v3"])
    version.logged_model_tags = {"mlflow.source.git.dirty": "true"}
    version.save(update_fields=["logged_model_tags"])
    lineage_rebuild()
    assert lineage_of(demo_template.run_ids["data-v3"]).verdict == "probable"
