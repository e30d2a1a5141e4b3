"""Reads for comparing two model versions or runs: resolving what to compare and gathering both sides for
``apps.lineage.compare``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apps.core.errors import AppError
from apps.dvc_sync.models import Commit
from apps.lineage import compare
from apps.lineage.models import LineageLink, RunLineage
from apps.lineage.selectors.versions import model_version_get, run_links, with_verdicts
from apps.mlflow_sync.models import ModelVersion, Run

# -- compare two runs or model versions ----------------------------------------------------------------------------


class CompareRefError(AppError):
    """A compare reference that names no model version or run in the mirror, or does not parse."""


VERSION_REF = re.compile(r"(?P<name>.+?)(?:\s*/\s*|\s+v?|\s*@\s*v?)(?P<version>\d{1,9})")


@dataclass
class CompareSide:
    """One side of a comparison: a model version (and its run) or a run, with the run's lineage and links."""

    ref: str
    run: Run | None
    version: ModelVersion | None
    lineage: RunLineage | None
    links: list[LineageLink]
    versions: list[ModelVersion]  # the run's model versions

    @property
    def label(self) -> str:
        if self.version is not None:
            return f"{self.version.model.name} v{self.version.version}"
        return self.run.name or self.run.run_id if self.run else self.ref

    @property
    def lock(self) -> Commit | None:
        """The commit whose ``dvc.lock`` describes the run (its own commit when no later one does)."""
        if self.lineage is None:
            return None
        return self.lineage.lock_commit or self.lineage.commit


def compare_ref(*, model: str, version: int) -> str:
    return f"mv:{model}/{version}"


def compare_side_get(ref: str) -> CompareSide:
    """The side ``ref`` names: ``mv:<model>/<version>`` (also ``<model>/<version>`` or ``<model> v<version>``) or
    ``run:<MLflow run id>`` (also a bare run id). Four queries. Raises ``CompareRefError`` naming what is unknown."""
    text = ref.strip()
    if not text:
        raise CompareRefError("Choose what to compare.")
    kind, _, rest = text.partition(":")
    version: ModelVersion | None = None
    if kind == "mv" or (kind != "run" and VERSION_REF.fullmatch(text)):
        match = VERSION_REF.fullmatch(rest.strip() if kind == "mv" else text)
        if match is None:
            raise CompareRefError(f"“{text}” is not a model version: write mv:<model>/<version>.")
        name, number = match["name"].strip(), int(match["version"])
        try:
            version = model_version_get(name=name, version=number)
        except ModelVersion.DoesNotExist:
            raise CompareRefError(f"No version {number} of model “{name}” in the mirror.") from None
        run = version.run
    else:
        run_id = (rest if kind == "run" else text).strip().lower()
        run = Run.objects.select_related("experiment").filter(run_id=run_id).order_by("deleted", "source__name").first()
        if run is None:
            raise CompareRefError(f"No run with id “{run_id}” in the mirror.")
    if run is None:
        return CompareSide(
            ref=text, run=None, version=version, lineage=None, links=[], versions=[version] if version else []
        )
    lineage = (
        RunLineage.objects.select_related("commit", "lock_commit__snapshot", "commit__snapshot", "dvc_source")
        .filter(run=run)
        .first()
    )
    versions = list(
        with_verdicts(ModelVersion.objects.filter(run=run, deleted=False)).order_by("model__name", "-version")
    )
    return CompareSide(ref=text, run=run, version=version, lineage=lineage, links=run_links(run), versions=versions)


@dataclass
class Comparison:
    a: CompareSide
    b: CompareSide
    params: list[compare.ValueDiff]
    metrics: list[compare.ValueDiff]
    data: list[compare.DataDiff]
    stages: compare.StagesDiff | None
    stages_note: str  # why there is no stage comparison
    commits: list[Commit]
    commits_total: int
    commits_note: str  # why there is no commit list
    later_first: bool  # B's lock commit comes before A's in history

    @property
    def params_changed(self) -> list[compare.ValueDiff]:
        return [d for d in self.params if d.changed]

    @property
    def params_same(self) -> list[compare.ValueDiff]:
        return [d for d in self.params if not d.changed]

    @property
    def metrics_changed(self) -> list[compare.ValueDiff]:
        return [d for d in self.metrics if d.changed]

    @property
    def metrics_same(self) -> list[compare.ValueDiff]:
        return [d for d in self.metrics if not d.changed]

    @property
    def data_changed(self) -> int:
        return sum(1 for d in self.data if d.status != compare.SAME)

    @property
    def data_conflicts(self) -> int:
        return sum(1 for d in self.data if d.conflict)


def _sides_data(side: CompareSide) -> list[compare.DataSide]:
    return [
        compare.DataSide(
            repo=link.repo,
            path=link.path,
            md5=link.md5,
            size=link.size,
            data_version_id=link.data_version_id,
            evidence=tuple(link.evidence),
            detail=link.detail,
        )
        for link in side.links
        if link.path
    ]


def _stages(side: CompareSide) -> dict[str, Any] | None:
    lock = side.lock
    return lock.snapshot.stages if lock is not None and lock.snapshot is not None else None


def commits_between(a: Commit, b: Commit, *, limit: int = 200) -> tuple[list[Commit], int]:
    """The commits of one source after the earlier of ``a`` and ``b`` up to and including the later one, in history
    order (oldest first, at most ``limit``), and how many there are. Two queries."""
    low, high = sorted((a.position, b.position))
    query = Commit.objects.filter(source_id=a.source_id, position__gt=low, position__lte=high)
    return list(query.select_related("source").order_by("position")[:limit]), query.count()


def comparison(a: CompareSide, b: CompareSide, *, commit_limit: int = 200) -> Comparison:
    """Params, metrics, data versions, pipeline stages and the commits between two sides. At most two queries."""
    run_a, run_b = a.run, b.run
    stages_a, stages_b = _stages(a), _stages(b)
    stages: compare.StagesDiff | None = None
    stages_note = ""
    if stages_a is not None and stages_b is not None:
        stages = compare.diff_stages(stages_a, stages_b)
    else:
        missing = " and ".join(side.label for side in (a, b) if _stages(side) is None)
        stages_note = f"No dvc.lock is known for {missing}: its run was not joined to a DVC commit."
    commits: list[Commit] = []
    total = 0
    commits_note = ""
    lock_a, lock_b = a.lock, b.lock
    if lock_a is None or lock_b is None:
        missing = " and ".join(side.label for side in (a, b) if side.lock is None)
        commits_note = f"No DVC commit is known for {missing}."
    elif lock_a.source_id != lock_b.source_id:
        commits_note = "The two were trained from different DVC sources: their commits are not one history."
    elif lock_a.pk == lock_b.pk:
        commits_note = f"Both are described by the same commit, {lock_a.short_sha}."
    else:
        commits, total = commits_between(lock_a, lock_b, limit=commit_limit)
    return Comparison(
        a=a,
        b=b,
        params=compare.diff_values(run_a.params if run_a else {}, run_b.params if run_b else {}),
        metrics=compare.diff_values(run_a.metrics if run_a else {}, run_b.metrics if run_b else {}),
        data=compare.diff_data(_sides_data(a), _sides_data(b)),
        stages=stages,
        stages_note=stages_note,
        commits=commits,
        commits_total=total,
        commits_note=commits_note,
        later_first=bool(lock_a and lock_b and lock_b.position < lock_a.position),
    )


def compare_choices(*, limit: int = 1000) -> list[tuple[str, list[tuple[str, ModelVersion]]]]:
    """Model versions to pick from on the compare form as (ref, version), grouped by model name (newest version
    first; at most ``limit`` versions in all). One query."""
    grouped: dict[str, list[tuple[str, ModelVersion]]] = {}
    query = ModelVersion.objects.filter(deleted=False, model__deleted=False).select_related("model")
    for version in query.order_by("model__name", "-version")[:limit]:
        ref = compare_ref(model=version.model.name, version=version.version)
        grouped.setdefault(version.model.name, []).append((ref, version))
    return list(grouped.items())
