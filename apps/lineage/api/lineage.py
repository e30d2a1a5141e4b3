"""REST endpoints of the lineage: a model version's lineage, the alias receipt a CI/CD pipeline gates on, a data
version's impact, runs with their verdicts, and search. Read-only; the same selectors as the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.selectors import search_grouped
from apps.dvc_sync.models import DataVersion
from apps.lineage import selectors
from apps.lineage.api.base import ApiPagination, ReadOnlyApiMixin, api_get
from apps.lineage.api.serializers import (
    DataVersionSerializer,
    ErrorSerializer,
    ImpactSerializer,
    LineageSerializer,
    ReceiptAtSerializer,
    ReceiptSerializer,
    RunLineageSerializer,
    RunSerializer,
    SearchSerializer,
)
from apps.lineage.graph import graph_json
from apps.lineage.models import Evidence, LineageLink, Verdict
from apps.mlflow_sync.models import ModelVersion, Run

VIEW = "lineage.view_runlineage"


# -- shaping --------------------------------------------------------------------------------------------------


def _or_none(value: str) -> str | None:
    return value or None


def link_data(links: list[LineageLink]) -> list[dict[str, Any]]:
    """Links as the API gives them: one per data version, and one ``["missing"]`` link when no data was found."""
    if not links:
        return [
            {"repo": None, "path": None, "md5": None, "commit": None, "evidence": [Evidence.MISSING], "size": None,
             "detail": "No lineage is known for this run."}
        ]  # fmt: skip
    return [
        {
            "repo": _or_none(link.repo),
            "path": _or_none(link.path),
            "md5": _or_none(link.md5),
            "commit": link.commit.sha if link.commit is not None else None,
            "evidence": list(link.evidence),
            "size": link.size,
            "detail": link.detail,
        }
        for link in links
    ]


def _version_ref(version: ModelVersion) -> dict[str, Any]:
    return {
        "model": version.model.name,
        "version": version.version,
        "stage": version.stage,
        "aliases": list(version.aliases or []),
        "serving": bool(version.aliases) or version.stage in ("Staging", "Production"),
    }


def _data_version(dv: DataVersion) -> dict[str, Any]:
    return {"id": dv.pk, "repo": dv.source.name, "path": dv.path, "md5": dv.hash_value, "size": dv.size}


def _get_version(name: str, version: int, source: str) -> ModelVersion:
    try:
        return selectors.model_version_get(name=name, version=version, source=source)
    except ModelVersion.DoesNotExist:
        raise NotFound(f"No version {version} of model {name!r} in the mirror.") from None


_SOURCE = OpenApiParameter(
    "source", OpenApiTypes.STR, description="The MLflow source's name, when several have a model of this name."
)


# -- endpoints ------------------------------------------------------------------------------------------------


@extend_schema(
    responses={200: LineageSerializer, 404: ErrorSerializer},
    parameters=[_SOURCE],
    summary="A model version's lineage: its run, the data versions it was trained on with their evidence, the graph",
)
@api_get(VIEW)
def model_version_lineage(request: Request, name: str, version: int) -> Response:
    found = _get_version(name, int(version), request.query_params.get("source", ""))
    verdict = selectors.version_verdict(found)
    view = selectors.version_lineage(found)
    return Response(
        LineageSerializer(
            {
                "model": found.model.name,
                "version": found.version,
                "run_id": found.run.run_id if found.run is not None else (found.mlflow_run_id or None),
                "verdict": verdict.verdict,
                "problems": verdict.problems,
                "links": link_data(view.links),
                **graph_json(view.graph),
            }
        ).data
    )


_AT = OpenApiParameter(
    "at",
    OpenApiTypes.DATETIME,
    description="A past moment, ISO-8601 with its zone (`2026-12-01T14:00:00Z`, or an offset URL-encoded as `%2B01:00`):"
    " which version held the alias then. Before the first sync: 200 with `version` null and `known_since`.",
)


def _moment(raw: str) -> Any:
    """The ``?at=`` time, or a 400 saying what is wrong with it."""
    from django.utils.dateparse import parse_datetime
    from rest_framework.exceptions import ValidationError

    text = raw.strip()
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        hint = " (a '+' in a URL reads as a space: write the offset as %2B01:00)" if " " in text else ""
        raise ValidationError({"detail": f"?at={raw!r} is not an ISO-8601 time such as 2026-12-01T14:00:00Z{hint}."})
    if moment.tzinfo is None:
        raise ValidationError({"detail": f"?at={raw!r} has no time zone: add Z for UTC or an offset such as %2B01:00."})
    return moment


def _receipt_at(request: Request, name: str, alias: str, raw: str) -> Response:
    from apps.mlflow_sync.selectors import registry_holder_at

    moment = _moment(raw)
    model = selectors.registered_model_get(name=name, source=request.query_params.get("source", ""))
    if model is None:
        raise NotFound(f"No registered model {name!r} in the mirror.")
    holder = registry_holder_at(model=model, field="alias", name=alias, at=moment)
    found = None
    if holder.version is not None:
        try:
            found = selectors.model_version_get(name=name, version=holder.version, source=model.source.name)
        except ModelVersion.DoesNotExist:
            found = None
    if holder.known and holder.version is None:
        raise NotFound(f"No version of model {name!r} held the alias {alias!r} at {moment.isoformat()}.")
    verdict = selectors.version_verdict(found).verdict if found is not None else None
    return Response(
        ReceiptAtSerializer(
            {
                "model": model.name,
                "alias": alias,
                "at": moment,
                "version": holder.version,
                "run_id": (found.run.run_id if found.run is not None else found.mlflow_run_id) if found else None,
                "verdict": verdict,
                "lineage_url": request.build_absolute_uri(selectors.model_version_url(found)) if found else None,
                "known_since": holder.known_since,
                "since": holder.since.at if holder.since else None,
                "how": holder.since.kind if holder.since else None,
                "uncertain": [
                    {"version": int(c.after) if c.after else None, "not_before": c.not_before, "seen_at": c.at}
                    for c in holder.uncertain
                ],
            }
        ).data
    )


@extend_schema(
    responses={200: ReceiptSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    parameters=[_AT, _SOURCE],
    summary="The receipt a CI/CD pipeline gates on: which version holds the alias now (or held it at ?at=), and its "
    "lineage verdict",
)
@api_get(VIEW)
def alias_receipt(request: Request, name: str, alias: str) -> Response:
    raw_at = request.query_params.get("at")
    if raw_at is not None:
        return _receipt_at(request, name, alias, raw_at)
    try:
        found = selectors.model_version_by_alias(name=name, alias=alias)
    except ModelVersion.DoesNotExist:
        raise NotFound(f"No version of model {name!r} holds the alias {alias!r} (as of the last sync).") from None
    verdict = selectors.version_verdict(found)
    return Response(
        ReceiptSerializer(
            {
                "model": found.model.name,
                "alias": alias,
                "version": found.version,
                "run_id": found.run.run_id if found.run is not None else found.mlflow_run_id,
                "verdict": verdict.verdict,
                "lineage_url": request.build_absolute_uri(selectors.model_version_url(found)),
            }
        ).data
    )


@extend_schema(
    responses={200: RunLineageSerializer, 404: ErrorSerializer},
    summary="A run's lineage, by MLflow run id",
)
@api_get(VIEW, "mlflow_sync.view_run")
def run_lineage(request: Request, run_id: str) -> Response:
    run = Run.objects.select_related("experiment").filter(run_id=run_id).order_by("source__name").first()
    if run is None:
        raise NotFound(f"No run {run_id!r} in the mirror.")
    view = selectors.run_lineage_view(run)
    lineage = view.lineage
    return Response(
        RunLineageSerializer(
            {
                "run_id": run.run_id,
                "name": run.name,
                "verdict": lineage.verdict if lineage else Verdict.GAPS,
                "problems": list(lineage.problems) if lineage else ["The run has not been joined yet."],
                "commit": _or_none(run.git_commit),
                "dirty": bool(lineage and lineage.dirty),
                "repro_rule": lineage.repro_rule if lineage else "",
                "links": link_data(view.links),
                **graph_json(view.graph),
            }
        ).data
    )


@extend_schema(
    responses={200: ImpactSerializer, 404: ErrorSerializer},
    summary="Impact analysis: every run and model version trained on a data version, and its later versions",
)
@api_get(VIEW, "dvc_sync.view_dataversion")
def data_impact(request: Request, pk: int) -> Response:
    try:
        dv = selectors.data_version_get(int(pk))
    except DataVersion.DoesNotExist:
        raise NotFound(f"No data version {pk}.") from None
    impact = selectors.data_impact(dv, page=request.query_params.get("page"))
    return Response(
        ImpactSerializer(
            {
                "data_version": _data_version(dv),
                "runs": [
                    {
                        "run_id": row.run.run_id,
                        "name": row.run.name,
                        "verdict": getattr(getattr(row.run, "lineage", None), "verdict", None),
                        "evidence": list(row.link.evidence),
                        "model_versions": [_version_ref(v) for v in row.versions],
                    }
                    for row in impact.rows
                ],
                "serving": [_version_ref(v) for v in impact.serving],
                "later_versions": [
                    _data_version(later.data_version) for later in selectors.data_version_timeline(dv).later
                ],
            }
        ).data
    )


class DataVersionList(ReadOnlyApiMixin, generics.ListAPIView):
    """Data versions by md5 prefix (at least 4 hex characters) and/or exact path; newest first."""

    required_permissions = (VIEW, "dvc_sync.view_dataversion")
    serializer_class = DataVersionSerializer
    pagination_class = ApiPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("md5", OpenApiTypes.STR, description="md5 prefix, 4 hex characters or more"),
            OpenApiParameter("path", OpenApiTypes.STR, description="exact data path"),
            OpenApiParameter("repo", OpenApiTypes.STR, description="DVC source name"),
        ],
        summary="Find data versions by md5 prefix or path",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[DataVersion]:
        params = self.request.query_params
        query = DataVersion.objects.select_related("source").order_by("-pk")
        md5 = params.get("md5", "").strip().lower()
        if md5:
            if len(md5) < 4:
                return DataVersion.objects.none()
            query = query.filter(hash_value__startswith=md5)
        if params.get("path"):
            query = query.filter(path=params["path"])
        if params.get("repo"):
            query = query.filter(source__name=params["repo"])
        if not (md5 or params.get("path") or params.get("repo")):
            return DataVersion.objects.none()
        return query

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([_data_version(dv) for dv in page or []])


class RunList(ReadOnlyApiMixin, generics.ListAPIView):
    """Runs with their lineage verdicts, newest first; filter by verdict, commit prefix or experiment name."""

    required_permissions = (VIEW, "mlflow_sync.view_run")
    serializer_class = RunSerializer
    pagination_class = ApiPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("verdict", OpenApiTypes.STR, enum=Verdict.values),
            OpenApiParameter("commit", OpenApiTypes.STR, description="git commit prefix"),
            OpenApiParameter("experiment", OpenApiTypes.STR, description="experiment name"),
        ],
        summary="Runs with their lineage verdicts",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Run]:
        params = self.request.query_params
        query = Run.objects.select_related("experiment", "lineage").filter(deleted=False).order_by("-start_time", "pk")
        if params.get("verdict"):
            query = query.filter(lineage__verdict=params["verdict"])
        if params.get("commit"):
            query = query.filter(git_commit__startswith=params["commit"].strip().lower())
        if params.get("experiment"):
            query = query.filter(experiment__name=params["experiment"])
        return query


@extend_schema(
    responses=SearchSerializer,
    parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True)],
    summary="One search over models, versions, runs, data paths, md5 and commit prefixes, tags; grouped by kind",
)
@api_get(VIEW)
def search(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:200]
    groups = [
        {
            "kind": kind,
            "hits": [
                {"title": hit.title, "url": request.build_absolute_uri(hit.url), "detail": hit.detail} for hit in hits
            ],
        }
        for kind, hits in search_grouped(query, request.user)
    ]
    return Response(SearchSerializer({"query": query, "groups": groups}).data)
