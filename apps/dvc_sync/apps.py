from django.apps import AppConfig


class DvcSyncConfig(AppConfig):
    name = "apps.dvc_sync"
    label = "dvc_sync"
    verbose_name = "DVC mirror"

    def ready(self) -> None:
        from apps.core import registry
        from apps.dvc_sync import kind

        registry.register_source_kind(kind.KIND)
