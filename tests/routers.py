"""Route audit-log reads to the application role, as production's default alias would."""


class AuditReadsAsApp:
    def db_for_read(self, model, **hints):
        return "app" if model._meta.label == "prodpatterns.AuditLog" else None
