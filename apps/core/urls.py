from django.urls import path

from apps.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("syncs/", views.sync_list, name="sync_list"),
    path("syncs/now/", views.sync_now, name="sync_now"),
]
