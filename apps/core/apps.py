from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Lineage dashboard"

    def ready(self) -> None:
        from apps.core import registry

        registry.register_nav(label="Overview", url_name="core:home", order=0)
        registry.register_nav(label="Syncs", url_name="core:sync_list", order=90)
