from django.apps import AppConfig


class MlflowSyncConfig(AppConfig):
    name = "apps.mlflow_sync"
    label = "mlflow_sync"
    verbose_name = "MLflow mirror"

    def ready(self) -> None:
        from apps.core import registry
        from apps.mlflow_sync import kind

        registry.register_source_kind(kind.KIND)
        registry.register_nav(
            label="Runs", url_name="mlflow_sync:run_list", order=20, permission="mlflow_sync.view_run"
        )
        registry.register_nav(
            label="Experiments",
            url_name="mlflow_sync:experiment_list",
            order=25,
            permission="mlflow_sync.view_experiment",
        )
        registry.register_nav(
            label="Models", url_name="mlflow_sync:model_list", order=30, permission="mlflow_sync.view_registeredmodel"
        )
        registry.register_search_provider("MLflow", kind.search)
        registry.register_overview_provider("mlflow", kind.overview)
