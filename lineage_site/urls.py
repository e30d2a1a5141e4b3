"""URL routes: each app owns its own under a prefix; the Django admin is for sources and users."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.audit.views import LoginView

urlpatterns = [
    # One login for the site and the admin: it records staff logins in the audit log.
    path("login/", LoginView.as_view(), name="login"),
    path("admin/login/", LoginView.as_view()),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("audit/", include("apps.audit.urls")),
    path("mlflow/", include("apps.mlflow_sync.urls")),
    path("data/", include("apps.dvc_sync.urls")),
    path("lineage/", include("apps.lineage.urls")),
    path("promotions/", include("apps.promotions.urls")),
    path("api/", include("apps.lineage.api.urls")),
    path("", include("apps.core.urls")),
]
