"""MLflow set-up of the demo, run by the demo builder with ``MLFLOW_TRACKING_URI`` set.

``python mlflow_setup.py init EXPERIMENT ARTIFACT_URI``
    Creates the tracking store and the experiment with its artifacts at ARTIFACT_URI. Run from the
    directory that should hold MLflow's ``Default`` experiment (``./mlruns`` of the current
    directory), so no experiment points into the git repository.

``python mlflow_setup.py registry PLAN_JSON``
    Describes, stages and aliases versions of a registered model. PLAN_JSON is
    ``{"model": "...", "description": "...", "versions": {"<label>": {"run_id": "...",
    "description": "...", "stage": "Production" | "", "alias": "production" | ""}}}``.
    Every labelled run must own exactly one version, otherwise it exits non-zero. Prints one JSON
    line ``{"<label>": <version number>}``.
"""

from __future__ import annotations

import json
import sys
import warnings


def init(experiment: str, artifact_uri: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    if client.get_experiment_by_name(experiment) is None:
        client.create_experiment(experiment, artifact_location=artifact_uri)
    print(json.dumps({"experiment": experiment}))


def registry(plan: dict) -> None:
    from mlflow import MlflowClient

    model = plan["model"]
    client = MlflowClient()
    by_run: dict[str, list[int]] = {}
    for found in client.search_model_versions(f"name='{model}'"):
        by_run.setdefault(found.run_id, []).append(int(found.version))

    numbers: dict[str, int] = {}
    for label, wanted in plan["versions"].items():
        owned = by_run.get(wanted["run_id"], [])
        if len(owned) != 1:
            raise SystemExit(f"run {wanted['run_id']} ({label}) owns versions {owned} of {model}, expected one")
        numbers[label] = owned[0]

    client.update_registered_model(model, description=plan["description"])
    with warnings.catch_warnings():
        # Stages are deprecated in favour of aliases; the demo sets both because real registries have both.
        warnings.simplefilter("ignore", FutureWarning)
        for label, wanted in plan["versions"].items():
            number = str(numbers[label])
            client.update_model_version(model, number, description=wanted["description"])
            if wanted.get("stage"):
                client.transition_model_version_stage(model, number, wanted["stage"])
            if wanted.get("alias"):
                client.set_registered_model_alias(model, wanted["alias"], number)
    print(json.dumps(numbers, sort_keys=True))


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[1] == "init":
        init(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "registry":
        registry(json.loads(argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
