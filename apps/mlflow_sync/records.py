"""Plain records both readers (the direct SQL read and MLflow's client) produce, and the sync writes.
Times are epoch milliseconds as MLflow keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ExperimentRecord:
    experiment_id: str
    name: str
    artifact_location: str = ""
    lifecycle_stage: str = "active"
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    workspace: str = "default"


@dataclass(slots=True)
class InputRecord:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    context: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunRecord:
    run_id: str
    experiment_id: str
    name: str = ""
    status: str = "FINISHED"
    start_time: int | None = None
    end_time: int | None = None
    user_id: str = ""
    lifecycle_stage: str = "active"
    artifact_uri: str = ""
    params: dict[str, str] = field(default_factory=dict)
    # key -> (value or None for NaN, step, timestamp)
    metrics: dict[str, tuple[float | None, int, int | None]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[InputRecord] = field(default_factory=list)
    probe: str = ""


@dataclass(slots=True)
class ModelVersionRecord:
    name: str
    version: int
    run_id: str = ""
    source: str = ""
    status: str = ""
    status_message: str = ""
    stage: str = "None"
    description: str = ""
    user_id: str = ""
    run_link: str = ""
    creation_time: int | None = None
    last_updated_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str = ""
    logged_model_tags: dict[str, str] = field(default_factory=dict)
    workspace: str = "default"


@dataclass(slots=True)
class RegisteredModelRecord:
    name: str
    description: str = ""
    creation_time: int | None = None
    last_updated_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[ModelVersionRecord] = field(default_factory=list)
    workspace: str = "default"


def logged_model_id_from_source(source: str) -> str:
    """MLflow 3 model versions point at their logged model as ``models:/m-…``; older ones at run artifacts."""
    if source.startswith("models:/m-"):
        return source[len("models:/") :].split("/", 1)[0]
    return ""


@dataclass(frozen=True)
class RegistryState:
    """One registered model's aliases and version stages as MLflow holds them now (a promotion's re-read)."""

    aliases: dict[str, int]
    stages: dict[int, str]  # version -> stage ("None" for none), every live version

    def stage_holders(self, stage: str) -> list[int]:
        return sorted(v for v, s in self.stages.items() if s == stage)
