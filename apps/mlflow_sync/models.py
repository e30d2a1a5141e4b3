"""The mirror of MLflow: sources, experiments, runs (with params, latest metrics, tags, dataset inputs),
registered models and model versions. MLflow stays the source of truth; these rows are what the last sync saw."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlparse

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.models import SourceBase
from apps.core.validators import ENV_NAME_VALIDATOR, http_url_validator, is_http_url


class MetricDecoder(json.JSONDecoder):
    """Metric values are doubles in MLflow. PostgreSQL's jsonb writes a huge double (MLflow keeps +inf as the
    largest float) as an integer literal, which would read back as a Python int of another value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["parse_int"] = float
        super().__init__(*args, **kwargs)


SQL_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "postgres")
HTTP_SCHEMES = ("http", "https")


def uri_scheme(uri: str) -> str:
    return urlparse(uri).scheme.lower()


class MlflowSource(SourceBase):
    """An MLflow tracking server (and its model registry). Credentials are referenced by environment-variable name
    only; the values are read from the environment of the process that syncs, never stored."""

    tracking_uri = models.CharField(
        max_length=1000, help_text="sqlite:////abs/path/mlflow.db, postgresql://user@host/db or http(s)://host:port"
    )
    registry_uri = models.CharField(max_length=1000, blank=True, help_text="Blank: the same as the tracking URI.")
    username_env = models.CharField(
        "username variable",
        max_length=100,
        blank=True,
        validators=[ENV_NAME_VALIDATOR],
        help_text="Name of the environment variable holding the user name (basic auth, or the database user).",
    )
    password_env = models.CharField(
        "password variable",
        max_length=100,
        blank=True,
        validators=[ENV_NAME_VALIDATOR],
        help_text="Name of the environment variable holding the password.",
    )
    token_env = models.CharField(
        "token variable",
        max_length=100,
        blank=True,
        validators=[ENV_NAME_VALIDATOR],
        help_text="Name of the environment variable holding a bearer token.",
    )
    # Links to MLflow's own UI are built from this alone: never from a tracking URI or from anything MLflow stores.
    ui_url = models.CharField(
        "MLflow UI URL",
        max_length=500,
        blank=True,
        validators=[http_url_validator],
        help_text="Base URL of this server's MLflow UI, e.g. https://mlflow.example.com. Blank: no links to MLflow.",
    )
    # The first registry sync's time: what held which alias or stage before it is unknown (MLflow keeps no history).
    registry_baseline_at = models.DateTimeField(null=True, blank=True, editable=False)
    # How many times a confirmed promotion wrote this source's mirror: a sync notes it before reading MLflow and
    # leaves alone the models written since (a counter, not a time: the sync and the worker may run on hosts whose
    # clocks differ).
    registry_writes = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta(SourceBase.Meta):
        verbose_name = "MLflow source"
        permissions = [("sync_mlflowsource", "Can start a sync of an MLflow source")]

    @property
    def effective_registry_uri(self) -> str:
        return self.registry_uri or self.tracking_uri

    @property
    def is_sql(self) -> bool:
        return uri_scheme(self.tracking_uri) in SQL_SCHEMES

    def run_ui_url(self, experiment_id: str, run_id: str) -> str:
        """The run's page in MLflow's UI, or "" when no UI URL is configured (or the run has no experiment).
        The ids come from MLflow: each is quoted whole, so it stays one path segment of the UI's route."""
        base = self._ui_base
        if not base or not experiment_id or not run_id:
            return ""
        return f"{base}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"

    def model_version_ui_url(self, name: str, version: int) -> str:
        """A registered model version's page in MLflow's UI, or "" when no UI URL is configured. The name comes
        from MLflow and is quoted whole, as MLflow's UI quotes it in its own links."""
        base = self._ui_base
        if not base or not name:
            return ""
        return f"{base}/#/models/{quote(name, safe='')}/versions/{int(version)}"

    @property
    def _ui_base(self) -> str:
        """The configured UI URL without its trailing slash; "" when blank or, should a row have been written
        without validation, when it is not an http(s) URL."""
        return self.ui_url.rstrip("/") if is_http_url(self.ui_url) else ""

    def clean(self) -> None:
        from apps.mlflow_sync.uris import validate_tracking_uri

        errors: dict[str, Any] = {}
        for field in ("tracking_uri", "registry_uri"):
            value = getattr(self, field)
            if value:
                try:
                    validate_tracking_uri(value)
                except ValidationError as exc:
                    errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)


class Experiment(models.Model):
    source = models.ForeignKey(MlflowSource, on_delete=models.CASCADE, related_name="experiments")
    workspace = models.CharField(max_length=63, default="default")
    experiment_id = models.CharField(max_length=64)
    name = models.CharField(max_length=500)
    artifact_location = models.TextField(blank=True)
    lifecycle_stage = models.CharField(max_length=32, default="active")
    creation_time = models.DateTimeField(null=True, blank=True)
    last_update_time = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "workspace", "experiment_id"], name="mlflow_experiment_natural_key"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One MLflow run. Params, latest metrics and tags are kept as JSON maps on the row so a run is one row to
    upsert; ``metric_steps`` holds each latest metric's step and timestamp."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        SCHEDULED = "SCHEDULED"
        FINISHED = "FINISHED"
        FAILED = "FAILED"
        KILLED = "KILLED"

    source = models.ForeignKey(MlflowSource, on_delete=models.CASCADE, related_name="runs")
    run_id = models.CharField(max_length=64)
    experiment = models.ForeignKey(Experiment, on_delete=models.SET_NULL, null=True, related_name="runs")
    name = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FINISHED)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    user_id = models.CharField(max_length=256, blank=True)
    lifecycle_stage = models.CharField(max_length=32, default="active")
    artifact_uri = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, decoder=MetricDecoder)
    metric_steps = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    git_commit = models.CharField(max_length=64, blank=True, db_index=True)
    git_branch = models.CharField(max_length=250, blank=True)
    git_repo_url = models.TextField(blank=True)
    source_name = models.TextField(blank=True)
    parent_run_id = models.CharField(max_length=64, blank=True, db_index=True)
    # What the sync compares to find runs that changed after they finished (see sqlstore.run_probes).
    probe = models.CharField(max_length=200, blank=True)
    deleted = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_time"]
        constraints = [models.UniqueConstraint(fields=["source", "run_id"], name="mlflow_run_natural_key")]
        indexes = [
            models.Index(fields=["source", "-start_time"], name="mlflow_run_start_idx"),
            models.Index(fields=["experiment", "-start_time"], name="mlflow_run_exp_start_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.run_id

    @property
    def duration_seconds(self) -> float | None:
        if self.start_time and self.end_time:
            return (self.end_time - self.start_time).total_seconds()
        return None


class DatasetInput(models.Model):
    """A dataset a run logged with ``mlflow.log_input``: the digest and source the lineage join compares with DVC."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="dataset_inputs")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=64, db_index=True)
    source_type = models.CharField(max_length=64, blank=True)
    source = models.TextField(blank=True)
    context = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.digest})"


class MetricHistory(models.Model):
    """A metric's full history, fetched on demand for a chart and cached until the run's latest value moves."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metric_histories")
    key = models.CharField(max_length=250)
    points = models.JSONField(default=list)  # [[step, timestamp_ms, value], ...]
    latest_marker = models.CharField(max_length=100, blank=True)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="mlflow_metric_history_key")]

    def __str__(self) -> str:
        return f"{self.key} of run {self.run_id}"


class RegisteredModel(models.Model):
    source = models.ForeignKey(MlflowSource, on_delete=models.CASCADE, related_name="registered_models")
    workspace = models.CharField(max_length=63, default="default")
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True)
    creation_time = models.DateTimeField(null=True, blank=True)
    last_updated_time = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    aliases = models.JSONField(default=dict, blank=True)  # {alias: version}
    deleted = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the registry reading this row's aliases and stages were last compared with began: a change seen later
    # happened after it.
    observed_at = models.DateTimeField(null=True, blank=True)
    # The source's ``registry_writes`` when a confirmed promotion last wrote this row's aliases and stages: a sync
    # that read MLflow before then leaves the row alone rather than undo or re-observe it.
    mirror_write_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "workspace", "name"], name="mlflow_registered_model_natural_key")
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    class Stage(models.TextChoices):
        NONE = "None"
        STAGING = "Staging"
        PRODUCTION = "Production"
        ARCHIVED = "Archived"

    source = models.ForeignKey(MlflowSource, on_delete=models.CASCADE, related_name="model_versions")
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    mlflow_run_id = models.CharField("run id", max_length=64, blank=True, db_index=True)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="model_versions")
    artifact_source = models.TextField(blank=True)
    status = models.CharField(max_length=32, blank=True)
    status_message = models.TextField(blank=True)
    stage = models.CharField(max_length=20, default=Stage.NONE)
    aliases = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    user_id = models.CharField(max_length=256, blank=True)
    run_link = models.TextField(blank=True)
    creation_time = models.DateTimeField(null=True, blank=True)
    last_updated_time = models.DateTimeField(null=True, blank=True)
    logged_model_id = models.CharField(max_length=64, blank=True, db_index=True)
    logged_model_tags = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="mlflow_model_version_natural_key")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def git_dirty(self) -> bool | None:
        value = self.logged_model_tags.get("mlflow.source.git.dirty")
        return None if value is None else str(value).lower() == "true"


class RegistryChange(models.Model):
    """One change to a model's registry state, as the dashboard learned of it: the state its first registry sync saw
    (``baseline``), a change a later sync saw that was made outside the dashboard (``observed``: it happened after
    ``not_before``, the previous reading, and before ``at``: MLflow records no time or user for alias moves), or a
    promotion made here and confirmed by MLflow (``promoted``). Each row points at its audit event."""

    class Kind(models.TextChoices):
        BASELINE = "baseline", "first seen"
        OBSERVED = "observed", "observed (made outside the dashboard)"
        PROMOTED = "promoted", "promoted here"

    class Field(models.TextChoices):
        MODEL = "model", "model"
        VERSION = "version", "version"
        STAGE = "stage", "stage"
        ALIAS = "alias", "alias"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="registry_changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    field = models.CharField(max_length=16, choices=Field.choices)
    name = models.CharField(max_length=256, blank=True)  # the alias
    version = models.PositiveIntegerField(null=True, blank=True)  # the version concerned (an alias: its new holder)
    before = models.CharField(max_length=64, blank=True)
    after = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    not_before = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    event = models.ForeignKey("audit.AuditEvent", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["model", "field", "name", "at"], name="mlflow_regchange_slot"),
            models.Index(fields=["model", "at"], name="mlflow_regchange_model"),
        ]

    def __str__(self) -> str:
        from apps.mlflow_sync.history import Change, describe

        if self.kind == self.Kind.BASELINE:  # what held what when first seen, not a move
            return (
                f"@{self.name} on v{self.after}"
                if self.field == self.Field.ALIAS
                else f"v{self.version} in {self.after}"
            )
        return describe(Change(self.field, self.name, self.version, self.before, self.after))
