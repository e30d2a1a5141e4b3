"""A repository with history, synced: the versions mirrored at each commit are the ones DVC lists at that commit,
the pipeline at a commit is what ``dvc dag`` prints after checking it out, and a re-sync reads only new commits."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.core import services as core_services
from apps.core.models import SyncRun
from apps.dvc_sync.graphs import parse_dot
from apps.dvc_sync.models import ArtifactEvent, ArtifactStage, Commit, DataVersion, DvcSource, Pin, Ref
from apps.dvc_sync.services import dvc_source_add
from tests.dvc_sync.history import GTO, History, build_history, copy_history
from tests.dvc_sync.repos import run

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def history_template(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("history-template"))


@pytest.fixture
def history(history_template: History, tmp_path: Path, settings: pytest.FixtureRequest) -> History:
    settings.DVC_REPOS_DIR = tmp_path / "clones"  # type: ignore[attr-defined]
    return copy_history(history_template, tmp_path / "history")


def _sync(source: DvcSource, **kwargs: bool) -> SyncRun:
    run_ = core_services.sync_source(kind="dvc", source_id=source.pk, **kwargs)
    assert run_.status == SyncRun.Status.SUCCEEDED, run_.error
    return run_


@pytest.fixture
def synced(history: History) -> DvcSource:
    source, _ = dvc_source_add(name="churn", location=str(history.repo))
    _sync(source)
    return source


def _outs_at(source: DvcSource, sha: str) -> dict[str, str]:
    commit = Commit.objects.get(source=source, sha=sha)
    return dict(
        Pin.objects.filter(snapshot=commit.snapshot, role="out").values_list(
            "data_version__path", "data_version__hash_value"
        )
    )


def _dvc_lists(repo: Path, sha: str) -> dict[str, str]:
    """What DVC's own ``ls`` reports at that revision (read from git, not from our checkout)."""
    from dvc.repo import Repo

    found = {}
    for folder in (".", "data", "prep"):
        try:
            entries = Repo.ls(str(repo), folder, rev=sha, dvc_only=True)
        except Exception:  # the folder does not exist at that commit
            continue
        for entry in entries:
            if entry["isout"]:
                found[f"{folder}/{entry['path']}".removeprefix("./")] = entry["md5"]
    return found


def _dvc_dag(*args: str) -> str:
    out = io.StringIO()
    call_command("dvc_dag", *args, stdout=out)
    return out.getvalue()


def test_the_versions_at_every_commit_are_the_ones_dvc_lists(history: History, synced: DvcSource) -> None:
    for label, sha in history.commits.items():
        assert _outs_at(synced, sha) == _dvc_lists(history.repo, sha), label


def test_the_pipeline_at_a_commit_is_what_dvc_dag_prints_there(
    history: History, synced: DvcSource, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    run(["git", "clone", "-q", str(history.repo), str(checkout)], tmp_path)
    for label in ("pipeline", "third-shard"):
        run(["git", "checkout", "-q", history.commits[label]], checkout)
        for extra in ([], ["--outs"]):
            expected = run(["dvc", "dag", "--dot", *extra], checkout)
            ours = _dvc_dag("--source", "churn", "--rev", history.commits[label][:8], *extra)
            assert sorted(ours.splitlines()) == sorted(expected.splitlines()), (label, extra)


def test_a_commit_without_dvc_changes_shares_its_parents_snapshot(history: History, synced: DvcSource) -> None:
    code = Commit.objects.get(source=synced, sha=history.commits["code"])
    parent = Commit.objects.get(source=synced, sha=history.commits["pipeline"])
    assert not code.dvc_changed and parent.dvc_changed
    assert code.snapshot_id == parent.snapshot_id


def test_an_import_keeps_its_source_repository_and_locked_revision(
    history_template: History, history: History, synced: DvcSource
) -> None:
    pin = Pin.objects.get(
        snapshot__commits__sha=history.commits["import"], data_version__path="data/labels.csv", role="out"
    )
    upstream_head = run(["git", "rev-parse", "HEAD"], history.upstream).strip()
    # The copy keeps the URL recorded when the template was built.
    expected = (str(history_template.upstream), "labels.csv", upstream_head)
    assert (pin.import_url, pin.import_path, pin.import_rev_lock) == expected
    assert pin.frozen


def test_versions_of_a_path_and_the_commits_pinning_an_md5_are_queries(history: History, synced: DvcSource) -> None:
    versions = DataVersion.objects.filter(source=synced, path="data/raw.csv")
    assert versions.count() == 2
    v1 = versions.get(pins__snapshot__commits__sha=history.commits["raw-v1"])
    pinning = set(
        Commit.objects.filter(snapshot__pins__data_version=v1, snapshot__pins__role="out")
        .values_list("sha", flat=True)
        .distinct()
    )
    assert pinning == {history.commits[k] for k in ("raw-v1", "import", "pipeline", "code")}
    # raw v2 was added before the pipeline ran again: that commit's dvc.lock still names v1 as the stages' input.
    stale = Commit.objects.filter(snapshot__pins__data_version=v1, snapshot__pins__role="dep")
    assert history.commits["raw-v2"] in set(stale.values_list("sha", flat=True))
    assert v1.size == len("id,x\n1,0.5\n")


def test_gto_tags_give_the_stages_and_their_history(history: History, synced: DvcSource) -> None:
    assert set(ArtifactStage.objects.filter(source=synced).values_list("artifact", "stage", "version")) == {
        ("churn-model", "prod", "v1.0.0"),
        ("churn-model", "staging", "v1.1.0"),
    }
    prod = ArtifactEvent.objects.get(source=synced, tag="churn-model#prod#1")
    assert (prod.action, prod.version, prod.message, prod.author) == ("assign", "v1.0.0", "ship it", "Test Author")
    assert Ref.objects.get(source=synced, name="main").is_default


def test_a_resync_reads_only_the_new_commits(history: History, synced: DvcSource) -> None:
    (history.repo / "data" / "raw.csv").write_text("id,x\n9,9.9\n")
    run(["dvc", "add", "-q", "data/raw.csv"], history.repo)
    run(["git", "commit", "-q", "-am", "raw data v3"], history.repo)
    head = run(["git", "rev-parse", "HEAD"], history.repo).strip()
    again = _sync(synced)
    assert again.counts["commits"] == 1 and again.counts["dvc_commits"] == 1
    assert DataVersion.objects.filter(source=synced, path="data/raw.csv").count() == 3
    assert _outs_at(synced, head) == _dvc_lists(history.repo, head)
    assert _sync(synced).counts["commits"] == 0


def test_a_params_change_alone_changes_a_foreach_pipeline(history: History, synced: DvcSource, tmp_path: Path) -> None:
    (history.repo / "params.yaml").write_text("lr: 0.05\nshards:\n- a\n- b\n- c\n- d\n")
    run(["git", "commit", "-q", "-am", "a fourth shard, not reproduced yet"], history.repo)
    _sync(synced)
    expected = run(["dvc", "dag", "--dot"], history.repo)
    ours = _dvc_dag("--source", "churn")
    assert "prepare@d" in parse_dot(ours).nodes
    assert sorted(ours.splitlines()) == sorted(expected.splitlines())


def test_a_full_sync_gives_the_same_mirror(history: History, synced: DvcSource) -> None:
    before = {sha: _outs_at(synced, sha) for sha in history.commits.values()}
    assert _sync(synced, full=True).counts["commits"] == len(history.commits)
    assert {sha: _outs_at(synced, sha) for sha in history.commits.values()} == before


def test_unassigning_and_deprecating_are_read_on_the_next_sync(history: History, synced: DvcSource) -> None:
    run([GTO, "deprecate", "churn-model", "v1.1.0", "staging"], history.repo)  # unassign the stage
    _sync(synced)
    assert set(ArtifactStage.objects.filter(source=synced).values_list("stage", "version")) == {("prod", "v1.0.0")}
    run([GTO, "deprecate", "churn-model", "v1.0.0"], history.repo)  # deregister the version
    _sync(synced)
    assert not ArtifactStage.objects.filter(source=synced).exists()  # GTO: a deregistered version holds no stage
    actions = set(ArtifactEvent.objects.filter(source=synced).values_list("action", "version", "stage"))
    assert ("unassign", "v1.1.0", "staging") in actions
    assert ("deregister", "v1.0.0", "") in actions


def test_remotes_are_mirrored_by_name_and_url_without_credentials(history: History, synced: DvcSource) -> None:
    run(["dvc", "remote", "add", "-d", "storage", "https://ci-user:s3cret@dvc.example.com/churn"], history.repo)
    run(["dvc", "remote", "add", "backup", "/srv/dvc-backup"], history.repo)
    run(["git", "commit", "-q", "-am", "remotes"], history.repo)
    _sync(synced)
    head = Commit.objects.filter(source=synced).order_by("-position").first()
    assert head is not None and head.snapshot is not None
    assert head.snapshot.remotes == {"storage": "https://dvc.example.com/churn", "backup": "/srv/dvc-backup"}
    assert "s3cret" not in str(head.snapshot.__dict__)


def test_an_import_url_keeps_its_source_url(history: History, synced: DvcSource, tmp_path: Path) -> None:
    external = tmp_path / "external.csv"
    external.write_text("id,region\n1,north\n")
    run(["dvc", "import-url", "-q", str(external), "data/external.csv"], history.repo)
    run(["git", "add", "-A"], history.repo)
    run(["git", "commit", "-q", "-m", "import a file by URL"], history.repo)
    head = run(["git", "rev-parse", "HEAD"], history.repo).strip()
    _sync(synced)
    pin = Pin.objects.get(snapshot__commits__sha=head, data_version__path="data/external.csv", role="out")
    assert (pin.import_url, pin.import_rev_lock) == (str(external), "")
    assert _outs_at(synced, head) == _dvc_lists(history.repo, head)
