"""The join of the two mirrors: for every MLflow run, the data versions it was trained on and the evidence for each
link, and the run's verdict. Rows here are derived: ``services.lineage_recompute`` rewrites a run's rows from the
mirrors whenever a sync changed what they depend on."""

from __future__ import annotations

from django.db import models


class Evidence(models.TextChoices):
    """How a run ↔ data-version link was established, strongest first (the order links list them in)."""

    DIGEST = "digest", "digest"
    COMMIT = "commit", "commit"
    DATA_COMMIT = "data-commit", "data-commit"
    COMMIT_DIRTY = "commit-dirty", "commit-dirty"
    CONFLICT = "conflict", "conflict"
    MISSING = "missing", "missing"


EVIDENCE_ORDER = {value: index for index, value in enumerate(Evidence.values)}
PINNED = frozenset({Evidence.DIGEST, Evidence.COMMIT, Evidence.DATA_COMMIT})


class Verdict(models.TextChoices):
    COMPLETE = "complete", "complete"
    PROBABLE = "probable", "probable"
    CONFLICT = "conflict", "conflict"
    GAPS = "gaps", "gaps"


class Resolution(models.TextChoices):
    """What became of the run's commit when it was looked up in the DVC sources."""

    RESOLVED = "resolved", "found in a DVC source"
    NO_COMMIT = "no-commit", "no commit recorded"
    UNKNOWN = "unknown", "commit not in any DVC source"
    AMBIGUOUS = "ambiguous", "commit in several DVC sources"


class ReproRule(models.TextChoices):
    """Why a run was taken as made by ``dvc repro`` and described by a later commit's ``dvc.lock``."""

    NONE = "", "not a dvc repro run"
    MARKER = "marker", "a later dvc.lock holds a marker naming the run"
    UPSTREAM = "upstream", "a later dvc.lock used the same upstream data"
    PENDING = "pending", "made by dvc repro; the commit recording it is not synced yet"


class RunLineage(models.Model):
    """The join's result for one run: where its commit led and the verdict over its links."""

    run = models.OneToOneField("mlflow_sync.Run", on_delete=models.CASCADE, related_name="lineage")
    verdict = models.CharField(max_length=16, choices=Verdict.choices, db_index=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_key = models.CharField(max_length=100, blank=True)  # the tag or param the sha came from
    resolution = models.CharField(max_length=16, choices=Resolution.choices)
    dvc_source = models.ForeignKey("dvc_sync.DvcSource", null=True, blank=True, on_delete=models.SET_NULL)
    commit = models.ForeignKey(
        "dvc_sync.Commit", null=True, blank=True, on_delete=models.SET_NULL, related_name="run_lineages"
    )
    # The commit whose dvc.lock describes the run: its own commit, or for a dvc repro run the later one.
    lock_commit = models.ForeignKey(
        "dvc_sync.Commit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    repro_rule = models.CharField(max_length=16, choices=ReproRule.choices, blank=True, default="")
    stage = models.CharField(max_length=500, blank=True)  # the training stage, when the run is one
    dirty = models.BooleanField(default=False)
    candidates = models.JSONField(default=list, blank=True)  # DVC source names when ambiguous
    unmatched_inputs = models.JSONField(default=list, blank=True)  # [{"name", "digest", "source"}]
    problems = models.JSONField(default=list, blank=True)  # what is missing or contradicting, in words
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["repro_rule"], name="lineage_run_repro")]

    def __str__(self) -> str:
        return f"lineage of run {self.run_id}: {self.verdict}"


class LineageLink(models.Model):
    """One run ↔ data-version link with every kind of evidence that matched, strongest first. A run with no data
    found has one link with ``["missing"]`` and no data version. Path, hash and source name are copied so a link
    still reads after its DVC source was removed."""

    run = models.ForeignKey("mlflow_sync.Run", on_delete=models.CASCADE, related_name="lineage_links")
    # Indexed by (data_version, run) below; the source and commit are read through the run, never searched: a
    # link table of millions of rows pays for every index on each join recomputation.
    data_version = models.ForeignKey(
        "dvc_sync.DataVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lineage_links",
        db_index=False,
    )
    dvc_source = models.ForeignKey(
        "dvc_sync.DvcSource", null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    commit = models.ForeignKey(
        "dvc_sync.Commit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    repo = models.CharField(max_length=200, blank=True)
    path = models.CharField(max_length=1000, blank=True)
    md5 = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    stage = models.CharField(max_length=500, blank=True)  # the stage whose lock entry pins it
    evidence = models.JSONField(default=list)
    detail = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "position"]
        # A data version's impact reads its links in run order and counts distinct runs from this index alone.
        indexes = [models.Index(fields=["data_version", "run"], name="lineage_link_dv_run")]

    def __str__(self) -> str:
        return f"{self.path or 'no data'} ({', '.join(self.evidence)})"

    @property
    def strongest(self) -> str:
        return self.evidence[0] if self.evidence else Evidence.MISSING


class JoinCursor(models.Model):
    """How far the join has read a DVC source's commits and data versions (their highest primary keys), so the
    recomputation after a DVC sync looks only at what that sync added."""

    dvc_source = models.OneToOneField("dvc_sync.DvcSource", on_delete=models.CASCADE, related_name="join_cursor")
    last_commit_pk = models.BigIntegerField(default=0)
    last_data_version_pk = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"join cursor of {self.dvc_source}"
