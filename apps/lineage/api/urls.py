"""Routes of the read-only REST API, mounted at ``/api/``. DRF views skip the site's login redirect and authenticate
themselves (401 JSON for anonymous calls); the two documentation pages are pages for people, so they put the login
redirect back, and load nothing from another host."""

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.lineage.api import views
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
    # Lineage endpoints below.
]
