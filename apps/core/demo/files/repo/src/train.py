"""Stage ``train``: fit a random forest on the training features and log it to MLflow.

Writes ``models/model.pkl`` and ``models/run_id.txt`` (the MLflow run id, read by ``evaluate``),
and registers the model as a new version of ``churn-predictor``.
"""

from __future__ import annotations

import pickle
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from prepare import TARGET
from sklearn.ensemble import RandomForestClassifier
from tracking import REGISTERED_MODEL, RUN_ID_FILE, run_name, use_experiment

FEATURES = Path("data/features")
MODEL_FILE = Path("models/model.pkl")


def split_xy(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Return (X, y) of a feature table."""
    return features.drop(columns=[TARGET]), features[TARGET]


def load_xy(path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Return (X, y) read from a feature CSV written by ``featurize``."""
    return split_xy(pd.read_csv(path))


def fit(x: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> RandomForestClassifier:
    """Return a random forest fitted with the ``train`` parameters."""
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        random_state=params["seed"],
        n_jobs=1,
    )
    return model.fit(x, y)


def log_params_file() -> None:
    """Log every entry of ``params.yaml`` under its dotted DVC name (``train.n_estimators``...)."""
    import mlflow

    with open("params.yaml", encoding="utf-8") as handle:
        params = yaml.safe_load(handle)
    mlflow.log_params(
        {f"{section}.{key}": value for section, entries in params.items() for key, value in entries.items()}
    )


def start_autolog() -> None:
    """Autolog parameters and training metrics only: the model is logged explicitly by
    ``log_and_register`` and datasets only where their exact file is known."""
    import mlflow.sklearn

    mlflow.sklearn.autolog(log_models=False, log_datasets=False, log_post_training_metrics=False, silent=True)


def log_and_register(model: RandomForestClassifier, x: pd.DataFrame) -> int | None:
    """Log ``model`` to the active run and register it; return the new ``churn-predictor`` version."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    info = mlflow.sklearn.log_model(
        model,
        name="model",
        registered_model_name=REGISTERED_MODEL,
        signature=infer_signature(x, model.predict(x)),
        # MLflow 3 saves with skops, which only loads trusted types; a forest is made of trees.
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        # Explicit requirements skip MLflow's inference, which reloads the model in a new process.
        pip_requirements=[
            f"mlflow=={version('mlflow')}",
            f"scikit-learn=={version('scikit-learn')}",
            f"skops=={version('skops')}",
        ],
    )
    return info.registered_model_version


def main() -> None:
    import mlflow

    with open("params.yaml", encoding="utf-8") as handle:
        params = yaml.safe_load(handle)["train"]
    x, y = load_xy(FEATURES / "train.csv")
    use_experiment()
    start_autolog()
    with mlflow.start_run(run_name=run_name("pipeline-train")) as run:
        mlflow.set_tag("churn.entry_point", "dvc-stage:train")
        log_params_file()
        model = fit(x, y, params)
        model_version = log_and_register(model, x)
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    with MODEL_FILE.open("wb") as handle:
        pickle.dump(model, handle)
    RUN_ID_FILE.write_text(run.info.run_id + "\n", encoding="utf-8")
    print(f"train: MLflow run {run.info.run_id}, {REGISTERED_MODEL} version {model_version}")


if __name__ == "__main__":
    main()
