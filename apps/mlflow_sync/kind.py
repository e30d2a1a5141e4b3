"""How ``core`` reaches the MLflow mirror: the ``mlflow`` source kind, search and overview providers."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.urls import reverse

from apps.audit.context import Actor
from apps.core.errors import SourceError
from apps.core.registry import OverviewStat, Progress, SearchHit, SourceKind, SourceRef
from apps.mlflow_sync import selectors, services
from apps.mlflow_sync.models import MlflowSource


def _ref(source: MlflowSource) -> SourceRef:
    return SourceRef(
        kind="mlflow", id=source.pk, name=source.name, location=source.tracking_uri, enabled=source.enabled
    )


def list_sources() -> list[SourceRef]:
    return [_ref(s) for s in MlflowSource.objects.order_by("name")]


def get_source(name: str) -> SourceRef:
    source = MlflowSource.objects.filter(name=name).first()
    if source is None:
        raise SourceError(
            f"No MLflow source named '{name}'.", hint="List them in the admin or add one with add_source."
        )
    return _ref(source)


def sync(source_id: int, *, full: bool, progress: Progress) -> dict[str, int]:
    return services.mlflow_source_sync(source_id, full=full, progress=progress)


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--registry-uri", default="", help="mlflow: model registry URI if not the tracking URI")
    parser.add_argument("--username-env", default="", help="mlflow: name of the variable holding the user name")
    parser.add_argument("--password-env", default="", help="mlflow: name of the variable holding the password")
    parser.add_argument("--token-env", default="", help="mlflow: name of the variable holding a bearer token")
    parser.add_argument(
        "--ui-url", default="", help="mlflow: base URL of the MLflow UI (run links), e.g. https://mlflow.example.com"
    )


def add_source(name: str, location: str, **options: Any) -> tuple[SourceRef, bool]:
    source, created = services.mlflow_source_add(
        name=name,
        tracking_uri=location,
        registry_uri=options.get("registry_uri") or "",
        username_env=options.get("username_env") or "",
        password_env=options.get("password_env") or "",
        token_env=options.get("token_env") or "",
        ui_url=options.get("ui_url") or "",
        actor=Actor.cli(),
    )
    return _ref(source), created


def ensure_defaults() -> None:
    services.mlflow_source_ensure_default()


KIND = SourceKind(
    name="mlflow",
    label="MLflow",
    list_sources=list_sources,
    get_source=get_source,
    sync=sync,
    add_source=add_source,
    add_arguments=add_arguments,
    ensure_defaults=ensure_defaults,
)


def search(text: str, user: AbstractUser | AnonymousUser, limit: int) -> list[SearchHit]:
    hits: list[SearchHit] = []
    if user.has_perm("mlflow_sync.view_registeredmodel"):
        hits += [
            SearchHit(
                kind="Models",
                title=m.name,
                url=reverse("mlflow_sync:model_detail", args=[m.pk]),
                detail=", ".join(f"@{a} → v{v}" for a, v in sorted(m.aliases.items())),
            )
            for m in selectors.model_search(text, limit)
        ]
    if user.has_perm("mlflow_sync.view_experiment"):
        hits += [
            SearchHit(kind="Experiments", title=e.name, url=reverse("mlflow_sync:run_list") + f"?experiment={e.pk}")
            for e in selectors.experiment_search(text, limit)
        ]
    if user.has_perm("mlflow_sync.view_run"):
        hits += [
            SearchHit(
                kind="Runs",
                title=r.name or r.run_id,
                url=reverse("mlflow_sync:run_detail", args=[r.pk]),
                detail=f"{r.run_id[:12]} · {r.experiment.name if r.experiment else ''} · {r.status.lower()}",
            )
            for r in selectors.run_search(text, limit)
        ]
    return hits


def overview() -> list[OverviewStat]:
    counts = selectors.mirror_counts()
    return [
        OverviewStat("Runs", counts["runs"], reverse("mlflow_sync:run_list")),
        OverviewStat("Experiments", counts["experiments"], reverse("mlflow_sync:experiment_list")),
        OverviewStat("Registered models", counts["models"], reverse("mlflow_sync:model_list")),
        OverviewStat("Model versions", counts["versions"], reverse("mlflow_sync:model_list")),
    ]
