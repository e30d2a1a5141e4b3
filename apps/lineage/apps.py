from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "apps.lineage"
    label = "lineage"
    verbose_name = "Lineage"

    def ready(self) -> None:
        from apps.core import registry
        from apps.lineage import hooks

        registry.register_post_sync_hook(hooks.recompute_after_sync)
