from django.apps import AppConfig


class DvcSyncConfig(AppConfig):
    name = "apps.dvc_sync"
    label = "dvc_sync"
    verbose_name = "DVC mirror"

    def ready(self) -> None:
        from apps.core import registry
        from apps.dvc_sync import kind

        registry.register_source_kind(kind.KIND)
        registry.register_nav(
            label="Data", url_name="dvc_sync:source_list", order=40, permission="dvc_sync.view_dataversion"
        )
        registry.register_search_provider("DVC", kind.search)
        registry.register_overview_provider("dvc", kind.overview)
