"""The lineage app's search provider: model versions (to their lineage page, with the verdict), data versions (to
their impact page, with how many runs trained on them) and tags (run tags, git tags, GTO tags).

Kinds are the common names ``core``'s search page groups by; the mirrors' own providers give models, runs,
experiments, data paths (to their history) and commits."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from apps.core.registry import SearchHit
from apps.lineage import selectors
from apps.lineage.selectors import TagHit
from apps.mlflow_sync.models import ModelVersion

MODEL_VERSIONS = "Model versions"
DATA_VERSIONS = "Data versions"
TAGS = "Tags"


def _version_detail(version: ModelVersion) -> str:
    parts = [f"verdict: {selectors.version_verdict(version).verdict}"]
    if version.stage in (ModelVersion.Stage.PRODUCTION, ModelVersion.Stage.STAGING):
        parts.append(version.stage)
    parts += [f"@{alias}" for alias in version.aliases]
    if version.run is not None:
        parts.append(f"run {version.run.name or version.run.run_id[:12]}")
    return " · ".join(parts)


def _tag_url(tag: TagHit) -> str:
    if tag.kind == "run":
        key = tag.key.replace("`", "")
        value = tag.value.replace("\\", "\\\\").replace("'", "\\'")
        return reverse("mlflow_sync:run_list") + "?" + urlencode({"filter": f"tags.`{key}` = '{value}'"})
    if tag.kind == "gto":
        return reverse("dvc_sync:registry", args=[tag.source])
    return reverse("dvc_sync:commit_detail", args=[tag.source, tag.sha])


def _tag_detail(tag: TagHit) -> str:
    if tag.kind == "run":
        return f"run tag · {tag.runs} run{'s' if tag.runs != 1 else ''}"
    what = tag.detail or "git tag"
    return f"{what} · {tag.source} · {tag.sha[:10]}"


def search(text: str, user: AbstractUser | AnonymousUser, limit: int) -> list[SearchHit]:
    """Hits for what the user may see: model versions and data versions need the lineage permission as well as the
    mirror's; tags need the permission of the page they open."""
    hits: list[SearchHit] = []
    lineage = user.has_perm("lineage.view_runlineage")
    if lineage and user.has_perm("mlflow_sync.view_modelversion"):
        hits += [
            SearchHit(
                kind=MODEL_VERSIONS,
                title=f"{v.model.name} v{v.version}",
                url=selectors.model_version_url(v),
                detail=_version_detail(v),
            )
            for v in selectors.model_version_search(text, limit=limit)
        ]
    if lineage and user.has_perm("dvc_sync.view_dataversion"):
        for dv, runs in selectors.data_version_search(text, limit=limit):
            size = filesizeformat(dv.size) if dv.size is not None else "size unknown"
            hits.append(
                SearchHit(
                    kind=DATA_VERSIONS,
                    title=f"{dv.path} @ {dv.short_hash}",
                    url=selectors.data_version_url(dv.pk),
                    detail=f"{dv.source.name} · {size} · trained {runs} run{'s' if runs != 1 else ''}",
                )
            )
    tags: list[TagHit] = []
    if user.has_perm("mlflow_sync.view_run"):
        tags += selectors.run_tag_search(text, limit=limit)
    if user.has_perm("dvc_sync.view_commit") and user.has_perm("dvc_sync.view_artifactevent"):
        tags += selectors.git_tag_search(text, limit=limit)
    hits += [SearchHit(kind=TAGS, title=t.name, url=_tag_url(t), detail=_tag_detail(t)) for t in tags[:limit]]
    return hits
