"""Train outside the pipeline, on ``data/customers.csv`` exactly as it is in the work tree.

The run records that file as its MLflow dataset input ``customers`` (context ``training``) with the
file's MD5 as digest, the value DVC writes into ``data/customers.csv.dvc`` when the file is added.
Nothing is written to the repository; ``--run-id-file`` names a file to receive the run id.

    python src/adhoc_train.py --run-name quick-check [--run-id-file /tmp/run_id]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd
from evaluate import score
from featurize import build
from prepare import RAW, TARGET, load_params, split
from tracking import REGISTERED_MODEL, file_md5, use_experiment
from train import fit, log_and_register, log_params_file, split_xy, start_autolog


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", default="adhoc-train", help="MLflow run name")
    parser.add_argument("--run-id-file", type=Path, help="write the MLflow run id to this file")
    args = parser.parse_args(argv)

    import mlflow
    import mlflow.data

    raw = pd.read_csv(RAW)
    digest = file_md5(RAW)
    prepare_params, featurize_params = load_params("prepare"), load_params("featurize")
    train_rows, test_rows = split(raw, prepare_params["test_size"], prepare_params["seed"])
    x, y = split_xy(build(train_rows, featurize_params))
    x_test, y_test = split_xy(build(test_rows, featurize_params))

    use_experiment()
    start_autolog()
    with mlflow.start_run(run_name=args.run_name) as run:
        mlflow.set_tag("churn.entry_point", "adhoc_train.py")
        with warnings.catch_warnings():
            # A bare path matches several local source types; MLflow picks the local file one, as we want.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = mlflow.data.from_pandas(raw, source=str(RAW), name="customers", digest=digest, targets=TARGET)
        mlflow.log_input(dataset, context="training")
        log_params_file()
        model = fit(x, y, load_params("train"))
        mlflow.log_metrics(score(model, x_test, y_test))
        model_version = log_and_register(model, x)
    if args.run_id_file is not None:
        args.run_id_file.write_text(run.info.run_id + "\n", encoding="utf-8")
    print(f"adhoc_train: {RAW} md5 {digest}, MLflow run {run.info.run_id}, {REGISTERED_MODEL} version {model_version}")


if __name__ == "__main__":
    main()
