from django.urls import path

from apps.lineage.views import data, versions

app_name = "lineage"

urlpatterns = [
    # model versions, their graph, runs' lineage fragment
    path("models/<path:name>/versions/<int:version>/", versions.model_version, name="model_version"),
    path(
        "models/<path:name>/versions/<int:version>/graph.json", versions.model_version_graph, name="model_version_graph"
    ),
    path("versions/<int:pk>/summary/", versions.version_summary, name="version_summary"),
    path("runs/<int:pk>/", versions.run_lineage_fragment, name="run_lineage"),
    path("runs/<int:pk>/graph.json", versions.run_graph, name="run_graph"),
    # data versions (impact), compare
    path("data/<int:pk>/", data.data_version, name="data_version"),
    path("compare/", data.compare, name="compare"),
]
