"""Promotions: a request to move a model version to a target (an alias such as ``production``, and where the registry
still uses them the legacy stage), the per-model, per-target policy an admin sets (gates, second approver, stage),
and the outbox row the worker executes against MLflow.

A ``Promotion`` is never shown as done before MLflow confirms it: ``confirmed`` is written only after the re-read
after the write shows the version holding the target. At most one promotion per (model, target) is ``executing``
at a time, enforced by a unique constraint on that status, which SQLite and PostgreSQL both honour.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# The built-in targets: every model can be promoted to them, with the legacy stage of the same name.
BUILTIN_TARGETS = {"production": "Production", "staging": "Staging"}
STAGES = ("Staging", "Production", "Archived")
METRIC_OPS = (">=", ">", "<=", "<", "==", "!=")


def target_label(target: str) -> str:
    """What a person reads for a target: "Production", "Staging", or "@champion"."""
    return BUILTIN_TARGETS.get(target) or f"@{target}"


class PromotionPolicy(models.Model):
    """How a model is promoted to one target. Without a policy, ``production`` and ``staging`` are targets with no
    gates and no second approver; a policy makes any other alias a target too."""

    class StageMode(models.TextChoices):
        AUTO = "auto", "when the model's versions use stages"
        ALWAYS = "always", "always"
        NEVER = "never", "never (aliases only)"

    model = models.ForeignKey(
        "mlflow_sync.RegisteredModel", on_delete=models.CASCADE, related_name="promotion_policies"
    )
    target = models.CharField(
        "target alias", max_length=255, help_text="The MLflow alias, e.g. production, staging or champion."
    )
    stage = models.CharField(
        "legacy stage",
        max_length=20,
        blank=True,
        choices=[(s, s) for s in ("Staging", "Production")],
        help_text="The legacy stage that goes with the alias. Blank: Production for production, Staging for "
        "staging, none for other aliases.",
    )
    stage_mode = models.CharField(
        "set the legacy stage", max_length=8, choices=StageMode.choices, default=StageMode.AUTO
    )
    archive_existing = models.BooleanField(
        "archive the previous holders of the stage",
        default=True,
        help_text="MLflow's archive_existing_versions: versions in the stage move to Archived.",
    )
    require_verdict = models.BooleanField(
        "gate: lineage verdict",
        default=False,
        help_text="Refuse a version whose lineage verdict is conflict or gaps.",
    )
    metric_gates = models.JSONField(
        "gate: metric thresholds",
        default=list,
        blank=True,
        help_text='A list such as [{"metric": "test_auc", "op": ">=", "value": 0.75}]; the run must log each metric.',
    )
    require_retrievable = models.BooleanField(
        "gate: data retrievable",
        default=False,
        help_text="Every data version the run was trained on must be in one of the DVC remotes configured on its "
        "DVC source in the admin (never a remote read from the repository).",
    )
    four_eyes = models.BooleanField(
        "second approver", default=False, help_text="One approver requests, a different one approves."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "promotion policy"
        verbose_name_plural = "promotion policies"
        ordering = ["model__name", "target"]
        constraints = [models.UniqueConstraint(fields=["model", "target"], name="promotions_policy_model_target")]

    def __str__(self) -> str:
        return f"{self.model} → {target_label(self.target)}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not ALIAS_RE.match(self.target or ""):
            errors["target"] = "An MLflow alias: letters, digits, '_' and '-'."
        elif self.target.lower().startswith("v") and self.target[1:].isdigit():
            errors["target"] = "MLflow reserves aliases of the form v<number>."
        problems = metric_gate_problems(self.metric_gates)
        if problems:
            errors["metric_gates"] = problems
        if errors:
            raise ValidationError(errors)

    @property
    def has_gates(self) -> bool:
        return bool(self.require_verdict or self.metric_gates or self.require_retrievable)


def metric_gate_problems(gates: Any) -> list[str]:
    """What is wrong with a policy's metric gates (none: they are valid)."""
    if not isinstance(gates, list):
        return ["Give a list of {metric, op, value} objects."]
    problems = []
    for n, gate in enumerate(gates, start=1):
        if not isinstance(gate, dict) or set(gate) != {"metric", "op", "value"}:
            problems.append(f"Gate {n}: give exactly metric, op and value.")
        elif not isinstance(gate["metric"], str) or not gate["metric"].strip():
            problems.append(f"Gate {n}: name the metric.")
        elif gate["op"] not in METRIC_OPS:
            problems.append(f"Gate {n}: op is one of {', '.join(METRIC_OPS)}.")
        elif isinstance(gate["value"], bool) or not isinstance(gate["value"], (int, float)):
            problems.append(f"Gate {n}: value is a number.")
    return problems


class Promotion(models.Model):
    """One request to move ``version`` of ``model`` to ``target``, and what became of it."""

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "waiting for a second approver"
        PENDING = "pending", "pending: waiting to be written to MLflow"
        EXECUTING = "executing", "being written to MLflow"
        CONFIRMED = "confirmed", "confirmed by MLflow"
        CONFLICT = "conflict", "conflict: the target moved meanwhile"
        FAILED = "failed", "failed"
        REFUSED = "refused", "refused by a gate"
        REJECTED = "rejected", "rejected by an approver"
        CANCELLED = "cancelled", "cancelled"

    OPEN = (Status.AWAITING_APPROVAL, Status.PENDING, Status.EXECUTING)

    model = models.ForeignKey("mlflow_sync.RegisteredModel", on_delete=models.PROTECT, related_name="promotions")
    model_version = models.ForeignKey("mlflow_sync.ModelVersion", on_delete=models.PROTECT, related_name="promotions")
    version = models.PositiveIntegerField()
    target = models.CharField(max_length=255)
    stage = models.CharField(max_length=20, blank=True)  # the legacy stage set too, "" for none
    archive_existing = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    reason = models.TextField()
    idempotency_key = models.CharField(max_length=64, unique=True)
    # PROTECT: people who requested or decided stay on record (deactivate users, do not delete them).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now)
    approval_required = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # What the mirror said held the target when the request was made: execution refuses if MLflow differs.
    expected_alias_version = models.PositiveIntegerField(null=True, blank=True)
    expected_stage_versions = models.JSONField(default=list, blank=True)
    gate_results = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # this execution's claim (its token)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # beaten before each MLflow call of the execution
    write_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    mlflow_before = models.JSONField(null=True, blank=True)  # MLflow's state read just before writing
    mlflow_after = models.JSONField(null=True, blank=True)  # the confirming re-read
    outcome = models.TextField(blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        permissions = [("promote_modelversion", "Can promote model versions and approve promotions")]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "target"],
                condition=Q(status="executing"),
                name="promotions_one_in_flight",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="promotions_due"),
            models.Index(fields=["model", "target", "-requested_at"], name="promotions_model_target"),
        ]

    def __str__(self) -> str:
        return f"promotion #{self.pk}: {self.model.name} v{self.version} → {target_label(self.target)}"

    @property
    def target_label(self) -> str:
        return target_label(self.target)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gate_results or [] if g.get("status") != "ok"]
