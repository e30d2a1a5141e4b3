from django.urls import path

from apps.dvc_sync import views

app_name = "dvc_sync"

urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("<str:name>/", views.source_detail, name="source_detail"),
    path("<str:name>/sync/", views.sync_now, name="sync_now"),
    path("<str:name>/tracked/", views.data_list, name="data_list"),
    path("<str:name>/history/", views.data_history, name="data_history"),
    path("<str:name>/commit/<str:sha>/", views.commit_detail, name="commit_detail"),
    path("<str:name>/pipeline/", views.pipeline, name="pipeline"),
    path("<str:name>/pipeline/data.json", views.pipeline_data, name="pipeline_data"),
    path("<str:name>/stage/", views.stage_detail, name="stage_detail"),
    path("<str:name>/registry/", views.registry, name="registry"),
]
