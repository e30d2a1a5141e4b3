from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "apps.lineage"
    label = "lineage"
    verbose_name = "Lineage"

    def ready(self) -> None:
        from apps.core import registry
        from apps.lineage import hooks, search
        from apps.lineage.views import versions

        registry.register_post_sync_hook(hooks.recompute_after_sync)
        registry.register_search_provider("Lineage", search.search)
        registry.register_home_panel(
            "lineage-models",
            template="lineage/partials/home_models.html",
            context=versions.home_panel_context,
            order=10,
            permission="lineage.view_runlineage",
        )
        registry.register_page_fragment(
            "model_version_summary",
            "lineage",
            url_name="lineage:version_summary",
            order=10,
            permission="lineage.view_runlineage",
        )
