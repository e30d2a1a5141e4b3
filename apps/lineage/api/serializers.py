"""The shapes of the lineage API's answers (also what the OpenAPI schema documents)."""

from __future__ import annotations

from rest_framework import serializers

from apps.lineage.models import Evidence, Verdict
from apps.mlflow_sync.models import Run


class LinkSerializer(serializers.Serializer):
    repo = serializers.CharField(allow_null=True, help_text="The DVC source's name.")
    path = serializers.CharField(allow_null=True, help_text="The data path, relative to the DVC root.")
    md5 = serializers.CharField(allow_null=True, help_text="DVC's hash of the data version (md5, or md5.dir).")
    commit = serializers.CharField(allow_null=True, help_text="The commit whose DVC files pin it.")
    evidence = serializers.ListField(
        child=serializers.ChoiceField(choices=Evidence.values), help_text="Every matching kind, strongest first."
    )
    size = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()


class NodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField()
    url = serializers.CharField(help_text="The dashboard page of the node, or empty.")


class EdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    evidence = serializers.ListField(child=serializers.CharField())


class LineageSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    run_id = serializers.CharField(allow_null=True)
    verdict = serializers.ChoiceField(choices=Verdict.values)
    problems = serializers.ListField(child=serializers.CharField(), help_text="What is missing or contradicting.")
    links = LinkSerializer(many=True)
    nodes = NodeSerializer(many=True)
    edges = EdgeSerializer(many=True)


class RunLineageSerializer(serializers.Serializer):
    run_id = serializers.CharField()
    name = serializers.CharField()
    verdict = serializers.ChoiceField(choices=Verdict.values)
    problems = serializers.ListField(child=serializers.CharField())
    commit = serializers.CharField(allow_null=True)
    dirty = serializers.BooleanField()
    repro_rule = serializers.CharField()
    links = LinkSerializer(many=True)
    nodes = NodeSerializer(many=True)
    edges = EdgeSerializer(many=True)


class ReceiptSerializer(serializers.Serializer):
    model = serializers.CharField()
    alias = serializers.CharField()
    version = serializers.IntegerField()
    run_id = serializers.CharField()
    verdict = serializers.ChoiceField(choices=Verdict.values)
    lineage_url = serializers.URLField()


class UncertainChangeSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, help_text="The holder after this change (null: removed).")
    not_before = serializers.DateTimeField(help_text="The change happened after this (the previous sync).")
    seen_at = serializers.DateTimeField(help_text="…and before this (the sync that saw it).")


class ReceiptAtSerializer(serializers.Serializer):
    """The receipt at a past moment (``?at=``): which version held the alias then, as far as the dashboard knows."""

    model = serializers.CharField()
    alias = serializers.CharField()
    at = serializers.DateTimeField()
    version = serializers.IntegerField(allow_null=True, help_text="null: the moment is before the first sync.")
    run_id = serializers.CharField(allow_null=True)
    verdict = serializers.ChoiceField(choices=Verdict.values, allow_null=True)
    lineage_url = serializers.URLField(allow_null=True)
    known_since = serializers.DateTimeField(
        allow_null=True, help_text="The first registry sync: MLflow keeps no history of alias moves before it."
    )
    since = serializers.DateTimeField(allow_null=True, help_text="When the change that made it hold was seen.")
    how = serializers.CharField(allow_null=True, help_text="baseline, observed or promoted")
    uncertain = UncertainChangeSerializer(
        many=True, help_text="Changes seen later that may already have happened at that moment (sync precision)."
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ModelVersionRefSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    stage = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    serving = serializers.BooleanField(help_text="Holds an alias or the Staging/Production stage now.")


class ImpactRunSerializer(serializers.Serializer):
    run_id = serializers.CharField()
    name = serializers.CharField()
    verdict = serializers.CharField(allow_null=True)
    evidence = serializers.ListField(child=serializers.CharField())
    model_versions = ModelVersionRefSerializer(many=True)


class DataVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    repo = serializers.CharField()
    path = serializers.CharField()
    md5 = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)


class ImpactSerializer(serializers.Serializer):
    data_version = DataVersionSerializer()
    runs = ImpactRunSerializer(many=True)
    serving = ModelVersionRefSerializer(many=True, help_text="Model versions trained on it that serve now.")
    later_versions = DataVersionSerializer(many=True, help_text="Later versions of the same path, oldest first.")


class RunSerializer(serializers.ModelSerializer):
    verdict = serializers.SerializerMethodField()
    experiment = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["run_id", "name", "status", "experiment", "start_time", "end_time", "git_commit", "verdict"]

    def get_verdict(self, run: Run) -> str | None:
        lineage = getattr(run, "lineage", None)
        return lineage.verdict if lineage is not None else None

    def get_experiment(self, run: Run) -> str | None:
        return run.experiment.name if run.experiment is not None else None


class HitSerializer(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.CharField()
    detail = serializers.CharField()


class SearchGroupSerializer(serializers.Serializer):
    kind = serializers.CharField()
    hits = HitSerializer(many=True)


class SearchSerializer(serializers.Serializer):
    query = serializers.CharField()
    groups = SearchGroupSerializer(many=True)
