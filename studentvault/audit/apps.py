from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "studentvault.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # Low layers (crypto) cannot import audit; they send security events, which land here.
        from studentvault.core.events import security_event

        from .receivers import record_security_event
        from .sites import connect_cache_invalidation

        security_event.connect(record_security_event, dispatch_uid="audit.security_event")
        connect_cache_invalidation()
