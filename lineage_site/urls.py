"""URL routes: each app owns its own under a prefix; the Django admin is for sources and users."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("mlflow/", include("apps.mlflow_sync.urls")),
    path("data/", include("apps.dvc_sync.urls")),
    path("lineage/", include("apps.lineage.urls")),
    path("api/", include("apps.lineage.api.urls")),
    path("", include("apps.core.urls")),
]
