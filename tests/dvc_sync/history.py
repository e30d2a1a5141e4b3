"""A DVC project with a history, made with the real ``dvc`` and ``gto`` command lines: several ``dvc add``
versions of a file and a folder, a ``foreach`` stage, ``dvc repro`` runs, a ``dvc import`` from a second local
repository, a params change that adds a ``foreach`` item, GTO tags, and a code-only commit."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.dvc_sync.repos import run

GTO = str(Path(sys.executable).parent / "gto")

PIPELINE = """\
stages:
  prepare:
    foreach: ${shards}
    do:
      cmd: python -c "import shutil; shutil.copy('data/raw.csv', 'prep/${item}.csv')"
      deps:
      - data/raw.csv
      outs:
      - prep/${item}.csv
  train:
    cmd: python -c "import glob; open('model.pkl', 'w').write(str(sorted(glob.glob('prep/*.csv'))))"
    deps:
    - prep
    - data/labels.csv
    params:
    - lr
    outs:
    - model.pkl
artifacts:
  churn-model:
    path: model.pkl
    type: model
    desc: The churn classifier
"""


@dataclass
class History:
    repo: Path
    upstream: Path
    commits: dict[str, str]  # label -> sha, oldest first


def build_history(folder: Path) -> History:
    """Build the two repositories in ``folder`` (``upstream`` and ``repo``) and return the labelled commits."""
    upstream, repo = folder / "upstream", folder / "repo"
    upstream.mkdir(parents=True)
    run(["git", "init", "-q"], upstream)
    run(["dvc", "init", "-q"], upstream)
    (upstream / "labels.csv").write_text("id,label\n1,0\n2,1\n")
    run(["dvc", "add", "-q", "labels.csv"], upstream)
    run(["git", "add", "-A"], upstream)
    run(["git", "commit", "-q", "-m", "labels v1"], upstream)

    repo.mkdir()
    commits: dict[str, str] = {}

    def commit(label: str, message: str) -> None:
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-q", "-m", message], repo)
        commits[label] = run(["git", "rev-parse", "HEAD"], repo).strip()

    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    commit("init", "dvc init")
    (repo / "data" / "images").mkdir(parents=True)
    (repo / "data" / "raw.csv").write_text("id,x\n1,0.5\n")
    (repo / "data" / "images" / "a.png").write_bytes(b"a")
    run(["dvc", "add", "-q", "data/raw.csv", "data/images"], repo)
    commit("raw-v1", "raw data v1")
    run(["dvc", "import", "-q", str(upstream), "labels.csv", "-o", "data/labels.csv"], repo)
    commit("import", "import labels from the upstream repository")
    (repo / "params.yaml").write_text("lr: 0.1\nshards:\n- a\n- b\n")
    (repo / "dvc.yaml").write_text(PIPELINE)
    (repo / "prep").mkdir()
    run(["dvc", "repro", "-q"], repo)
    commit("pipeline", "pipeline: prepare per shard, train")
    (repo / "train.py").write_text("print('training code only')\n")
    commit("code", "code only: no DVC file changes")
    (repo / "data" / "raw.csv").write_text("id,x\n1,0.5\n2,0.7\n3,0.9\n")
    (repo / "data" / "images" / "b.png").write_bytes(b"bb")
    run(["dvc", "add", "-q", "data/raw.csv", "data/images"], repo)
    commit("raw-v2", "raw data v2")
    run(["dvc", "repro", "-q"], repo)
    commit("repro-v2", "retrain on raw v2")
    run([GTO, "register", "churn-model", "--version", "v1.0.0", "-m", "first release"], repo)
    run([GTO, "assign", "churn-model", "--version", "v1.0.0", "--stage", "prod", "-m", "ship it"], repo)
    (repo / "params.yaml").write_text("lr: 0.05\nshards:\n- a\n- b\n- c\n")
    run(["dvc", "repro", "-q"], repo)
    commit("third-shard", "a third shard and a lower learning rate")
    run([GTO, "register", "churn-model", "--version", "v1.1.0"], repo)
    run([GTO, "assign", "churn-model", "--version", "v1.1.0", "--stage", "staging"], repo)
    return History(repo=repo, upstream=upstream, commits=commits)


def copy_history(template: History, folder: Path) -> History:
    shutil.copytree(template.repo.parent, folder, symlinks=True)
    return History(repo=folder / "repo", upstream=folder / "upstream", commits=dict(template.commits))
