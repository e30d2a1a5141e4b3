"""Stage ``evaluate``: score the trained model on the test features.

Adds the metrics to the MLflow run named in ``models/run_id.txt`` (the run ``train`` finished)
and writes them to ``metrics.json``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from tracking import RUN_ID_FILE, tracking_uri
from train import FEATURES, MODEL_FILE, load_xy

METRICS_FILE = Path("metrics.json")


def score(model: ClassifierMixin, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Return test metrics rounded to 4 places (the same numbers go to MLflow and metrics.json)."""
    predicted = model.predict(x)
    probability = model.predict_proba(x)[:, 1]
    metrics = {
        "test_accuracy": accuracy_score(y, predicted),
        "test_precision": precision_score(y, predicted, zero_division=0),
        "test_recall": recall_score(y, predicted, zero_division=0),
        "test_f1": f1_score(y, predicted, zero_division=0),
        "test_roc_auc": roc_auc_score(y, probability),
    }
    return {name: round(float(value), 4) for name, value in metrics.items()}


def main() -> None:
    from mlflow import MlflowClient

    run_id = RUN_ID_FILE.read_text(encoding="utf-8").strip()
    with MODEL_FILE.open("rb") as handle:
        model = pickle.load(handle)
    metrics = score(model, *load_xy(FEATURES / "test.csv"))
    client = MlflowClient(tracking_uri())
    # The training run is already finished; the client can still add metrics to it.
    for name, value in metrics.items():
        client.log_metric(run_id, name, value)
    METRICS_FILE.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"evaluate: {metrics} -> run {run_id}")


if __name__ == "__main__":
    main()
