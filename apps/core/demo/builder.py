"""Build the churn-prediction demo project with real git, DVC and MLflow.

``build_demo_project(PATH)`` creates::

    PATH/repo          git + DVC repository: data/customers.csv (3 DVC versions), dvc.yaml pipeline
                       prepare -> featurize -> train -> evaluate, params.yaml, src/*.py
    PATH/dvc-remote    the repository's default DVC remote ("local"), everything pushed
    PATH/mlflow_data   MLflow SQLite store (mlflow.db) and artifacts/, experiment "churn-prediction",
                       registered model "churn-predictor"
    PATH/.demo-complete  the DemoSummary as JSON, written last

Everything runs as a subprocess (git, ``python -m dvc``, the project's scripts) with the given
python's bin directory first on PATH, so ``dvc repro`` stages use the same interpreter. This module
never imports mlflow or dvc itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apps.core.errors import AppError

FILES = Path(__file__).resolve().parent / "files"
MARKER = ".demo-complete"
EXPERIMENT = "churn-prediction"
REGISTERED_MODEL = "churn-predictor"
DATA_FILE = "data/customers.csv"
RUN_ID_FILE = "models/run_id.txt"

# Entries the builder creates directly under PATH; anything else there means PATH is not ours.
_OWN_ENTRIES = frozenset({"repo", "dvc-remote", "mlflow_data", ".build", MARKER, MARKER + ".tmp"})
_STEP_TIMEOUT_S = 600
_GIT_AUTHOR = ("Demo Data Scientist", "ds@example.com")
_CONTRACTS = ("month-to-month", "one-year", "two-year")

# Label -> registry description of each model version, in the order the versions are made.
_VERSION_STORY = {
    "data-v1": "Pipeline model (40 trees, depth 6) trained on customers v1: 2,000 customers.",
    "data-v2": "Pipeline model retrained on customers v2: 3,500 customers; the Q2 batch has charges in cents.",
    "data-v3": "Pipeline model retrained on customers v3: Q2 monthly charges fixed.",
    "tuned": "Pipeline model with 80 trees, depth 8, on customers v3; the state committed at HEAD.",
    "verified-input": "Ad-hoc training run on the committed customers v3, logged with its dataset input.",
    "uncommitted-data": "Ad-hoc training run on a local customers.csv with 400 extra Q3 customers.",
}


@dataclass(frozen=True)
class DemoSummary:
    """What a demo build made; also the content of ``PATH/.demo-complete``.

    ``run_ids`` and ``model_versions`` are keyed by the labels of ``_VERSION_STORY`` (``data-v1``,
    ``data-v2``, ``data-v3``, ``tuned``, ``verified-input``, ``uncommitted-data``); ``data_md5s`` by
    ``v1``/``v2``/``v3`` (committed) and ``uncommitted``; ``aliases`` maps alias to version number.
    """

    root: Path
    repo: Path
    dvc_remote: Path
    tracking_uri: str
    experiment: str
    registered_model: str
    run_ids: dict[str, str] = field(default_factory=dict)
    model_versions: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    data_md5s: dict[str, str] = field(default_factory=dict)
    build_seconds: float = 0.0

    def to_json(self) -> str:
        """Return the summary as indented JSON (paths as strings)."""
        data: dict[str, Any] = asdict(self)
        for key in ("root", "repo", "dvc_remote"):
            data[key] = str(data[key])
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DemoSummary:
        """Return the summary stored by ``to_json``; raises ValueError/KeyError/TypeError on other text."""
        data = json.loads(text)
        for key in ("root", "repo", "dvc_remote"):
            data[key] = Path(data[key])
        return cls(**data)


def read_completed_demo(path: Path) -> DemoSummary | None:
    """Return the summary of a finished demo at ``path``, or None when there is none.

    A missing or unreadable marker means "not finished": such a directory is rebuilt.
    """
    try:
        return DemoSummary.from_json((_absolute(path) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_demo(path: Path) -> None:
    """Delete the demo at ``path`` (finished or not); a missing path is fine.

    Refuses (AppError) when ``path`` holds anything the builder does not create, so a mistyped
    PATH never deletes someone's files.
    """
    root = _absolute(path)
    if not root.exists():
        return
    _refuse_foreign(root)
    _rmtree(root)


def build_demo_project(path: Path, *, python: str = sys.executable, log: Callable[[str], None] = print) -> DemoSummary:
    """Build the demo at ``path`` and return its summary (also written to ``path/.demo-complete``).

    ``python`` must have mlflow, dvc, scikit-learn, pandas and skops installed; its directory is put
    first on PATH for every step. A half-built demo at ``path`` (no marker) is cleared and rebuilt.
    Refuses (AppError) a finished demo (call ``remove_demo`` first), a path holding other files, and
    any failing git/DVC/python step (the message names the command and ends with its output).
    """
    started = time.monotonic()
    root = _absolute(path)
    _claim(root)
    build = _Build(root, python, log, started)
    build.run_all()
    summary = DemoSummary(
        root=root,
        repo=build.repo,
        dvc_remote=build.remote,
        tracking_uri=build.tracking_uri,
        experiment=EXPERIMENT,
        registered_model=REGISTERED_MODEL,
        run_ids=build.run_ids,
        model_versions=build.model_versions,
        aliases=build.aliases,
        data_md5s=build.data_md5s,
        build_seconds=round(time.monotonic() - started, 1),
    )
    shutil.rmtree(root / ".build", ignore_errors=True)
    # Written last and renamed into place: its presence means the whole demo exists.
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(summary.to_json(), encoding="utf-8")
    tmp.replace(root / MARKER)
    log(f"[{summary.build_seconds:5.1f}s] demo complete: {root}")
    return summary


def _absolute(path: Path) -> Path:
    # abspath, not resolve(): keep symlinked locations as the user named them.
    return Path(os.path.abspath(path.expanduser()))


def _refuse_foreign(root: Path) -> None:
    if not root.is_dir():
        raise AppError(f"{root} exists and is not a directory.", hint="Choose another demo path.")
    foreign = sorted(entry.name for entry in root.iterdir() if entry.name not in _OWN_ENTRIES)
    if foreign:
        raise AppError(
            f"{root} holds files that are not part of a demo: {', '.join(foreign[:5])}.",
            hint="Choose an empty or new directory for the demo.",
        )


def _claim(root: Path) -> None:
    """Make ``root`` an empty directory we own, clearing a half-built demo."""
    if read_completed_demo(root) is not None:
        raise AppError(f"{root} already holds a finished demo.", hint="Use --force to delete and rebuild it.")
    if root.exists():
        _refuse_foreign(root)
        for entry in root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                _rmtree(entry)
            else:
                entry.unlink()
    root.mkdir(parents=True, exist_ok=True)


def _rmtree(path: Path) -> None:
    def make_writable_and_retry(function: Callable[[str], object], failed: str, _exc: object) -> None:
        # DVC makes cache files and directories read-only; deleting them needs write permission.
        os.chmod(os.path.dirname(failed), stat.S_IRWXU)
        os.chmod(failed, stat.S_IRWXU)
        function(failed)

    shutil.rmtree(path, onerror=make_writable_and_retry)


def _customer_rows(first_id: int, count: int, seed: int, *, charges_in_cents: bool = False) -> list[str]:
    """Return ``count`` synthetic CSV rows (no header), customer ids from ``first_id``.

    Churn follows a logistic model of contract, tenure, charges and support calls, so the
    features carry signal. ``charges_in_cents`` reproduces the faulty Q2 export of data v2.
    """
    import numpy as np  # only the builder's data generation needs numpy

    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, count)
    contract = rng.choice(_CONTRACTS, count, p=[0.55, 0.25, 0.20])
    charges = np.round(rng.normal(65.0, 22.0, count).clip(18.0, 120.0), 2)
    calls = rng.poisson(1.6, count)
    logit = (
        -1.1
        + 1.4 * (contract == "month-to-month")
        - 1.0 * (contract == "two-year")
        - 0.035 * tenure
        + 0.02 * (charges - 65.0)
        + 0.45 * calls
    )
    churned = (rng.random(count) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    scale = 100.0 if charges_in_cents else 1.0
    return [
        f"C{first_id + i:05d},{tenure[i]},{charges[i] * scale:.2f},{contract[i]},{calls[i]},{churned[i]}"
        for i in range(count)
    ]


def _customers_csv(rows: list[str]) -> str:
    return "customer_id,tenure_months,monthly_charges,contract,support_calls,churned\n" + "\n".join(rows) + "\n"


class _Build:
    """One demo build: paths, the child environment, and the steps in order."""

    def __init__(self, root: Path, python: str, log: Callable[[str], None], started: float) -> None:
        self.root = root
        self.repo = root / "repo"
        self.remote = root / "dvc-remote"
        self.scratch = root / ".build"
        self.mlflow_dir = root / "mlflow_data"
        self.tracking_uri = f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"  # absolute path: four slashes
        self.python = python
        self._log = log
        self._started = started
        self.run_ids: dict[str, str] = {}
        self.model_versions: dict[str, int] = {}
        self.aliases: dict[str, int] = {}
        self.data_md5s: dict[str, str] = {}
        for directory in (self.repo, self.remote, self.mlflow_dir, self.scratch):
            directory.mkdir(parents=True, exist_ok=True)
        self.env = self._child_env()

    # -- environment and process running -------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        """Return the environment of every child: isolated from the caller's MLflow/DVC/git settings."""
        # Inherited MLFLOW_* (e.g. MLFLOW_REGISTRY_URI, MLFLOW_RUN_ID), GIT_* (GIT_DIR from a hook)
        # or PYTHONPATH would send the demo's writes elsewhere or import the wrong code.
        dropped = ("MLFLOW_", "GIT_", "DVC_", "PYTHONPATH", "PYTHONHOME")
        env = {key: value for key, value in os.environ.items() if not key.startswith(dropped)}
        # The given python's directory first: "python src/train.py" in dvc.yaml must find it.
        env["PATH"] = os.pathsep.join([os.path.dirname(os.path.abspath(self.python)), env.get("PATH", "")])
        env.update(
            {
                "MLFLOW_TRACKING_URI": self.tracking_uri,
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "DO_NOT_TRACK": "true",
                "DVC_NO_ANALYTICS": "1",
                "GIT_TERMINAL_PROMPT": "0",
                # The user's global/system git config (signing, hooks, templates) must not apply.
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def log(self, message: str) -> None:
        """Report progress, prefixed with the seconds since the build started."""
        self._log(f"[{time.monotonic() - self._started:5.1f}s] {message}")

    def run(self, args: Sequence[str], *, cwd: Path | None = None, extra_env: dict[str, str] | None = None) -> str:
        """Run one command (in the repo unless ``cwd``) and return its stdout; AppError if it fails."""
        cwd = cwd or self.repo
        env = {**self.env, **(extra_env or {})}
        command = shlex.join(args)
        try:
            done = subprocess.run(
                list(args),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_STEP_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as exc:
            raise AppError(
                f"Demo build could not start `{command}`: {exc}.", hint=f"Make sure {args[0]} is installed, then retry."
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise AppError(
                f"Demo build step `{command}` did not finish within {_STEP_TIMEOUT_S} s.",
                hint="Run it by hand in the demo repository to see where it hangs.",
            ) from exc
        if done.returncode != 0:
            output = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise AppError(
                f"Demo build step `{command}` failed with exit code {done.returncode} in {cwd}:\n{output}",
                hint="Fix the cause and run the command again; the half-built demo is rebuilt.",
            )
        return done.stdout

    def git(self, *args: str) -> str:
        """Run git in the repo; return its stdout."""
        return self.run(["git", *args])

    def dvc(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        """Run DVC as a module of the demo's python (not whatever ``dvc`` is on PATH); return its stdout."""
        return self.run([self.python, "-m", "dvc", *args], extra_env=extra_env)

    def commit(self, message: str) -> str:
        """Stage everything not ignored, commit, and return the new commit id."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)
        return self.git("rev-parse", "HEAD").strip()

    # -- steps ---------------------------------------------------------------------------------

    def run_all(self) -> None:
        self.init_tracking()
        self.init_repository()
        self.add_data("v1", _customer_rows(1, 2000, seed=1), "Add customer snapshot v1 (2,000 customers)")
        self.add_pipeline()
        self.train("data-v1", "Train churn model on customers v1")

        q2_in_cents = _customer_rows(2001, 1500, seed=2, charges_in_cents=True)
        self.add_data("v2", _customer_rows(1, 2000, seed=1) + q2_in_cents, "Add Q2 customers (v2: 3,500 customers)")
        self.train("data-v2", "Retrain churn model on customers v2")

        v3_rows = _customer_rows(1, 2000, seed=1) + _customer_rows(2001, 1500, seed=2)
        self.add_data("v3", v3_rows, "Fix Q2 monthly_charges exported in cents (v3)")
        self.train("data-v3", "Retrain churn model on customers v3")

        self.tune_parameters()
        self.train("tuned", "Retrain churn model with 80 trees, depth 8")

        self.adhoc_run("verified-input")
        self.uncommitted_run(v3_rows + _customer_rows(3501, 400, seed=3))
        self.edit_registry()
        self.check_finished()

    def init_tracking(self) -> None:
        """Create the MLflow store and experiment, with artifacts in mlflow_data/artifacts/.

        Run from mlflow_data/ because MLflow places its ``Default`` experiment under ``./mlruns`` of
        whichever process creates the store; the first training stage would put it in the repo.
        """
        self.log(f"MLflow store {self.tracking_uri}")
        artifacts = (self.mlflow_dir / "artifacts").as_uri()
        self.run([self.python, str(FILES / "mlflow_setup.py"), "init", EXPERIMENT, artifacts], cwd=self.mlflow_dir)

    def init_repository(self) -> None:
        self.log(f"git init + dvc init in {self.repo}")
        self.git("init", "--quiet", "--initial-branch", "main")
        name, email = _GIT_AUTHOR
        self.git("config", "user.name", name)
        self.git("config", "user.email", email)
        self.git("config", "commit.gpgsign", "false")
        self.dvc("init", "--quiet")
        self.dvc("config", "core.check_update", "false")
        self.dvc("config", "core.analytics", "false")
        self.dvc("remote", "add", "--default", "local", str(self.remote))
        # Scripts import each other (src/train.py imports prepare), which writes __pycache__.
        (self.repo / ".gitignore").write_text("__pycache__/\n*.pyc\n", encoding="utf-8")
        self.commit("Initialize DVC with a local remote")

    def add_data(self, version: str, rows: list[str], message: str) -> None:
        """Write data/customers.csv, ``dvc add`` it and commit the .dvc file."""
        self.log(f"data {version}: {len(rows):,} customers -> dvc add + commit")
        data = self.repo / DATA_FILE
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text(_customers_csv(rows), encoding="utf-8")
        self.dvc("add", "--quiet", DATA_FILE)
        self.data_md5s[version] = self.tracked_md5()
        self.commit(message)

    def tracked_md5(self) -> str:
        """Return the md5 recorded in data/customers.csv.dvc in the work tree."""
        for line in (self.repo / f"{DATA_FILE}.dvc").read_text(encoding="utf-8").splitlines():
            key, _, value = line.strip().lstrip("- ").partition(":")
            if key == "md5":
                return value.strip()
        raise AppError(f"No md5 in {DATA_FILE}.dvc after dvc add.", hint="Check the DVC version.")

    def add_pipeline(self) -> None:
        self.log("pipeline: dvc.yaml, params.yaml, src/ -> commit")
        shutil.copytree(FILES / "repo", self.repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        self.commit("Add churn pipeline: prepare -> featurize -> train -> evaluate")

    def tune_parameters(self) -> None:
        self.log("params: 80 trees, depth 8 -> commit")
        params = self.repo / "params.yaml"
        text = params.read_text(encoding="utf-8")
        if "n_estimators: 40" not in text or "max_depth: 6" not in text:
            raise AppError("The demo's params.yaml lacks n_estimators: 40 / max_depth: 6.", hint="Update the builder.")
        params.write_text(
            text.replace("n_estimators: 40", "n_estimators: 80").replace("max_depth: 6", "max_depth: 8"),
            encoding="utf-8",
        )
        self.commit("Tune random forest: 80 trees, depth 8")

    def train(self, label: str, message: str) -> None:
        """``dvc repro`` (which trains, registers and evaluates), commit the outputs, ``dvc push``."""
        self.dvc("repro", extra_env={"CHURN_RUN_NAME": label})
        run_id = (self.repo / RUN_ID_FILE).read_text(encoding="utf-8").strip()
        self.run_ids[label] = run_id
        commit = self.commit(message)
        self.dvc("push", "--quiet")
        self.log(f"{label}: dvc repro -> MLflow run {run_id}, commit {commit[:8]}, pushed")

    def adhoc_run(self, label: str) -> None:
        """Train with src/adhoc_train.py on the work-tree data; it logs the file as dataset input."""
        run_id_file = self.scratch / f"{label}.run_id"
        self.run([self.python, "src/adhoc_train.py", "--run-name", label, "--run-id-file", str(run_id_file)])
        self.run_ids[label] = run_id_file.read_text(encoding="utf-8").strip()
        self.log(f"{label}: ad-hoc run {self.run_ids[label]} with dataset input")

    def uncommitted_run(self, rows: list[str]) -> None:
        """Train on a changed data/customers.csv that is never added or committed, then restore it."""
        data = self.repo / DATA_FILE
        data.write_text(_customers_csv(rows), encoding="utf-8")
        # Plain MD5 of the bytes, as DVC 3 would record it if the file were added.
        self.data_md5s["uncommitted"] = hashlib.md5(data.read_bytes()).hexdigest()
        self.adhoc_run("uncommitted-data")
        # --force: the work-tree copy differs from the cache on purpose and is thrown away.
        self.dvc("checkout", "--force", "--quiet", DATA_FILE)
        self.log("data/customers.csv restored with dvc checkout")

    def edit_registry(self) -> None:
        """Describe every version; production = ``tuned``, staging = ``uncommitted-data``; old ones archived."""
        roles = {
            "data-v1": ("Archived", ""),
            "data-v2": ("Archived", ""),
            "tuned": ("Production", "production"),
            "uncommitted-data": ("Staging", "staging"),
        }
        plan = {
            "model": REGISTERED_MODEL,
            "description": "Predicts which customers cancel their contract (lineage dashboard demo).",
            "versions": {
                label: {
                    "run_id": self.run_ids[label],
                    "description": description,
                    "stage": roles.get(label, ("", ""))[0],
                    "alias": roles.get(label, ("", ""))[1],
                }
                for label, description in _VERSION_STORY.items()
            },
        }
        output = self.run(
            [self.python, str(FILES / "mlflow_setup.py"), "registry", json.dumps(plan)], cwd=self.mlflow_dir
        )
        try:
            self.model_versions = {
                label: int(number) for label, number in json.loads(output.strip().splitlines()[-1]).items()
            }
        except (ValueError, IndexError, AttributeError) as exc:
            raise AppError(
                f"mlflow_setup.py registry printed no version map: {output[-500:]!r}", hint="Run it by hand."
            ) from exc
        self.aliases = {alias: self.model_versions[label] for label, (_, alias) in roles.items() if alias}
        self.log(f"registry: versions {self.model_versions}, aliases {self.aliases}")

    def check_finished(self) -> None:
        """Refuse a build whose work tree is not clean or whose data is not all in the remote."""
        # --quiet: exit code 1 (an AppError here) when cache and remote differ.
        self.dvc("status", "--cloud", "--quiet")
        dirty = self.git("status", "--porcelain")
        if dirty.strip():
            raise AppError(f"The demo repository is not clean after the build:\n{dirty}", hint="Report this as a bug.")
        if self.tracked_md5() != self.data_md5s["v3"]:
            raise AppError(
                "data/customers.csv.dvc does not hold data v3 at the end of the build.", hint="Report this as a bug."
            )
