"""Where the churn project logs to MLflow, shared by every script that talks to MLflow."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

EXPERIMENT = "churn-prediction"
REGISTERED_MODEL = "churn-predictor"
RUN_ID_FILE = Path("models/run_id.txt")


def tracking_uri() -> str:
    """Return ``MLFLOW_TRACKING_URI``.

    Refuses (SystemExit) when it is unset or names a relative SQLite/file location: ``dvc repro``
    runs stages from the repository root, so a relative store would silently end up inside the repo.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        raise SystemExit("MLFLOW_TRACKING_URI is not set; export the absolute tracking URI (see README.md).")
    relative_sqlite = uri.startswith("sqlite:") and not uri.startswith("sqlite:////")
    relative_path = "://" not in uri and not uri.startswith("sqlite:") and not os.path.isabs(uri)
    if relative_sqlite or relative_path:
        raise SystemExit(f"MLFLOW_TRACKING_URI={uri!r} is relative; use an absolute location.")
    return uri


def artifact_location(uri: str) -> str | None:
    """Return where a new experiment keeps its artifacts: ``artifacts/`` next to a SQLite database.

    For any other store it returns None and lets the store decide. Without this MLflow would use
    ``./mlruns`` relative to the current directory, i.e. inside this repository.
    """
    if uri.startswith("sqlite:////"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return None


def use_experiment() -> str:
    """Point MLflow at the tracking URI and the churn experiment (creating it once); return its id."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location(uri))
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def run_name(default: str) -> str:
    """Return ``CHURN_RUN_NAME`` if set, else ``default``."""
    return os.environ.get("CHURN_RUN_NAME") or default


def file_md5(path: Path) -> str:
    """Return the MD5 of the file's bytes: the ``md5`` DVC 3 records for a single tracked file."""
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
