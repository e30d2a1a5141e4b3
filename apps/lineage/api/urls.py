"""Routes of the read-only REST API, mounted at ``/api/``. DRF views skip the site's login redirect and authenticate
themselves (401 JSON for anonymous calls); the two documentation pages are pages for people, so they put the login
redirect back, and load nothing from another host."""

from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.lineage.api import lineage, views
from apps.lineage.api.base import docs_page

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs/", login_required(docs_page(SpectacularSwaggerView.as_view(url_name="api:schema"))), name="docs"),
    path(
        "redoc/",
        login_required(
            docs_page(SpectacularRedocView.as_view(url_name="api:schema", template_name="lineage/api/redoc.html"))
        ),
        name="redoc",
    ),
    path("me/", views.me, name="me"),
    # Lineage endpoints below; the documented paths have no trailing slash, one is accepted too.
    re_path(
        r"^models/(?P<name>.+)/versions/(?P<version>[0-9]+)/lineage/?$",
        lineage.model_version_lineage,
        name="model_version_lineage",
    ),
    re_path(r"^models/(?P<name>.+)/aliases/(?P<alias>[^/]+)/?$", lineage.alias_receipt, name="alias_receipt"),
    re_path(r"^runs/?$", lineage.RunList.as_view(), name="run_list"),
    re_path(r"^runs/(?P<run_id>[^/]+)/lineage/?$", lineage.run_lineage, name="run_lineage"),
    re_path(r"^data/?$", lineage.DataVersionList.as_view(), name="data_list"),
    re_path(r"^data/(?P<pk>[0-9]+)/impact/?$", lineage.data_impact, name="data_impact"),
    re_path(r"^search/?$", lineage.search, name="search"),
]
