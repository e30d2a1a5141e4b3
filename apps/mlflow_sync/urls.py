from django.urls import path

from apps.mlflow_sync import views

app_name = "mlflow_sync"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/metric-history.json", views.metric_history, name="metric_history"),
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("models/", views.model_list, name="model_list"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("models/<int:pk>/history.json", views.model_history, name="model_history"),
]
