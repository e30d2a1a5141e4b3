from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "apps.promotions"
    label = "promotions"
    verbose_name = "Promotions"

    def ready(self) -> None:
        from django.urls import reverse

        from apps.audit import links
        from apps.audit.context import Actor
        from apps.core import registry
        from apps.mlflow_sync import hooks
        from apps.promotions import selectors, services, views

        hooks.register_registry_writer(selectors.models_with_writes_in_flight)
        registry.register_nav(
            label="Promotions", url_name="promotions:list", order=40, permission="promotions.view_promotion"
        )
        registry.register_page_fragment(
            "model_version",
            "promotions",
            url_name="promotions:panel",
            order=10,
            permission="promotions.view_promotion",
        )
        registry.register_home_panel(
            "promotions",
            template="promotions/partials/home_panel.html",
            context=views.home_panel_context,
            order=20,
            permission="promotions.view_promotion",
        )
        # Without Redis the embedded scheduler looks for due promotions every time it polls its queue.
        registry.register_queue_poller(
            "promotions",
            lambda: services.promotion_sweep(run=True, actor=Actor.system("scheduler")),
            replaces_task="apps.promotions.tasks.sweep_promotions",
        )
        links.register_target_url("promotion", lambda pk: reverse("promotions:detail", args=[int(pk)]))
