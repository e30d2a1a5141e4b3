"""Reads of the promotions: a model's targets and who holds them, what a promotion would do and whether its gates
pass (``promotion_preview``, which may check DVC remotes), and the lists the pages show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet

from apps.dvc_sync.selectors import data_versions_retrievable
from apps.lineage import selectors as lineage_selectors
from apps.mlflow_sync.models import ModelVersion, RegisteredModel
from apps.promotions import gates
from apps.promotions.errors import PromotionError
from apps.promotions.models import BUILTIN_TARGETS, Promotion, PromotionPolicy, target_label

PERMISSION = "promotions.promote_modelversion"


@dataclass(frozen=True)
class Target:
    """A target a model can be promoted to: the alias, the legacy stage set with it ("" none) and its policy."""

    alias: str
    stage: str
    archive_existing: bool
    policy: PromotionPolicy | None = None

    @property
    def label(self) -> str:
        return target_label(self.alias)

    @property
    def four_eyes(self) -> bool:
        return bool(self.policy and self.policy.four_eyes)

    @property
    def has_gates(self) -> bool:
        return bool(self.policy and self.policy.has_gates)


def _stages(model: RegisteredModel) -> dict[int, str]:
    """Each live version's stage in the mirror. One query."""
    return dict(ModelVersion.objects.filter(model=model, deleted=False).values_list("version", "stage"))


def model_targets(model: RegisteredModel, *, stages: dict[int, str] | None = None) -> list[Target]:
    """``production`` and ``staging``, then every other alias a policy makes a target, with the stage each sets
    (only where the model's registry still uses legacy stages: some live version is in one). Two queries (one when
    the versions' ``stages`` are given)."""
    policies = {p.target: p for p in PromotionPolicy.objects.filter(model=model)}
    stages = _stages(model) if stages is None else stages
    uses_stages = any(stage not in ("None", "") for stage in stages.values())
    targets = []
    for alias in [*BUILTIN_TARGETS, *sorted(set(policies) - set(BUILTIN_TARGETS))]:
        policy = policies.get(alias)
        stage = (policy.stage if policy and policy.stage else BUILTIN_TARGETS.get(alias, "")) or ""
        mode = policy.stage_mode if policy else PromotionPolicy.StageMode.AUTO
        if mode == PromotionPolicy.StageMode.NEVER or (mode == PromotionPolicy.StageMode.AUTO and not uses_stages):
            stage = ""
        targets.append(
            Target(
                alias=alias, stage=stage, archive_existing=policy.archive_existing if policy else True, policy=policy
            )
        )
    return targets


def target_get(model: RegisteredModel, alias: str) -> Target:
    """The target ``alias`` of ``model``; refuses (``PromotionError``) an alias that is not one, naming those that are."""
    for target in model_targets(model):
        if target.alias == alias:
            return target
    known = ", ".join(t.alias for t in model_targets(model))
    raise PromotionError(
        f"{alias!r} is not a promotion target of model {model.name!r}.",
        hint=f"Its targets: {known}. An admin adds others as promotion policies.",
    )


@dataclass(frozen=True)
class Holders:
    """Who holds a target in the mirror now: the alias's version and the versions in the legacy stage."""

    alias_version: int | None
    stage_versions: list[int]


def target_holders(model: RegisteredModel, target: Target) -> Holders:
    """From the mirror (what the last sync saw, plus promotions confirmed since). Two queries."""
    return _holders(_aliases(model), _stages(model), target)


def _aliases(model: RegisteredModel) -> dict[str, Any]:
    return dict(RegisteredModel.objects.values_list("aliases", flat=True).get(pk=model.pk) or {})


def _holders(aliases: dict[str, Any], stages: dict[int, str], target: Target) -> Holders:
    held = aliases.get(target.alias)
    in_stage = sorted(v for v, stage in stages.items() if target.stage and stage == target.stage)
    return Holders(alias_version=int(held) if held is not None else None, stage_versions=in_stage)


def targets_with_holders(model: RegisteredModel) -> list[tuple[Target, Holders]]:
    """Every target of the model with who holds it in the mirror now. Three queries, whatever the targets."""
    stages = _stages(model)
    aliases = _aliases(model)
    return [(target, _holders(aliases, stages, target)) for target in model_targets(model, stages=stages)]


@dataclass
class Preview:
    """What promoting ``version`` to ``target`` would do, and the gates' verdict now."""

    version: ModelVersion
    target: Target
    holders: Holders
    gate_results: list[gates.GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return gates.passed(self.gate_results)

    @property
    def already_holds(self) -> bool:
        holds_alias = self.holders.alias_version == self.version.version
        holds_stage = not self.target.stage or self.holders.stage_versions == [self.version.version]
        return holds_alias and holds_stage

    @property
    def archived(self) -> list[int]:
        """The versions MLflow will move out of the stage to Archived."""
        if not self.target.stage or not self.target.archive_existing:
            return []
        return [v for v in self.holders.stage_versions if v != self.version.version]


def _version_with_lineage(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.select_related("model", "source", "run", "run__lineage").get(pk=version.pk)


def gate_results(version: ModelVersion, target: Target) -> list[gates.GateResult]:
    """Evaluate the target's configured gates for ``version`` now (none configured: no results). The data gate
    talks to the DVC remotes an admin configured."""
    policy = target.policy
    if policy is None or not policy.has_gates:
        return []
    version = _version_with_lineage(version)
    results: list[gates.GateResult] = []
    if policy.require_verdict:
        verdict = lineage_selectors.version_verdict(version)
        results.append(gates.verdict_gate(verdict.verdict, verdict.problems))
    metrics = dict(version.run.metrics or {}) if version.run is not None else {}
    for gate in policy.metric_gates or []:
        results.append(gates.metric_gate(metrics, gate))
    if policy.require_retrievable:
        links = lineage_selectors.run_links(version.run) if version.run is not None else []
        linked = [link.data_version for link in links if link.data_version is not None]
        found = data_versions_retrievable(linked)
        checks = [
            gates.DataCheck(path=dv.path, md5=dv.hash_value, status=found[dv.pk].status, detail=found[dv.pk].detail)
            for dv in {dv.pk: dv for dv in linked}.values()
        ]
        results.append(gates.retrievable_gate(checks))
    return results


def promotion_preview(*, version: ModelVersion, target: Target) -> Preview:
    """What promoting ``version`` to ``target`` would do and whether its gates pass now (changes nothing)."""
    return Preview(
        version=version,
        target=target,
        holders=target_holders(version.model, target),
        gate_results=gate_results(version, target),
    )


# -- lists -----------------------------------------------------------------------------------------------------


def promotion_get(pk: int) -> Promotion:
    """One promotion with its model and version; raises ``Promotion.DoesNotExist``."""
    return Promotion.objects.select_related("model", "model__source", "model_version").get(pk=pk)


def promotion_list(*, status: str = "", model: str = "") -> QuerySet[Promotion]:
    """Promotions, newest first, optionally of one status (or ``open``) and model name."""
    qs = Promotion.objects.select_related("model", "model__source")
    if status == "open":
        qs = qs.filter(status__in=Promotion.OPEN)
    elif status:
        qs = qs.filter(status=status)
    if model:
        qs = qs.filter(model__name=model)
    return qs.order_by("-requested_at", "-pk")


def promotions_of_version(version: ModelVersion, *, limit: int = 10) -> list[Promotion]:
    return list(Promotion.objects.filter(model_version=version).order_by("-requested_at", "-pk")[:limit])


def open_promotions_of_model(model: RegisteredModel) -> list[Promotion]:
    return list(
        Promotion.objects.filter(model=model, status__in=Promotion.OPEN)
        .select_related("model_version")
        .order_by("requested_at", "pk")
    )


def awaiting_approval_for(user: Any) -> list[Promotion]:
    """Requests waiting for a second approver that ``user`` may approve (not their own)."""
    return list(
        Promotion.objects.filter(status=Promotion.Status.AWAITING_APPROVAL)
        .exclude(requested_by=user)
        .select_related("model", "model__source")
        .order_by("requested_at", "pk")
    )


def approvers() -> QuerySet[Any]:
    """Active users who may promote and approve (directly, through a group, or as superusers)."""
    permission = Permission.objects.filter(content_type__app_label="promotions", codename="promote_modelversion")
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(user_permissions__in=permission) | Q(groups__permissions__in=permission))
        .distinct()
    )


def previous_holder(model: RegisteredModel, target: Target, current: int | None) -> int | None:
    """The version that held the target's alias before ``current`` (its holder now: the rollback candidate), from
    the registry history; None when the history knows no earlier holder. One query."""
    for before, after in (
        model.registry_changes.filter(field="alias", name=target.alias)
        .order_by("-at", "-pk")
        .values_list("before", "after")
    ):
        if after == str(current) and before:
            return int(before)
    return None


def models_with_writes_in_flight(source_id: int) -> set[int]:
    """The registered models of an MLflow source with a promotion being written (executing, or pending after a
    write that may have landed): a registry sync leaves their mirror rows alone until it is confirmed."""
    return set(
        Promotion.objects.filter(model__source_id=source_id)
        .filter(
            Q(status=Promotion.Status.EXECUTING) | Q(status=Promotion.Status.PENDING, write_started_at__isnull=False)
        )
        .values_list("model_id", flat=True)
    )
