from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from apps.audit import services
        from apps.core import registry

        # core is below audit: it records the life of every sync (and API tokens) through this recorder.
        registry.register_event_recorder(services.record_from_core)
        registry.register_nav(
            label="Audit log", url_name="audit:event_list", order=80, permission="audit.view_auditevent"
        )
