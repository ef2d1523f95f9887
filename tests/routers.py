"""Route audit-log reads to the application role, as production's default alias would."""


class AuditReadsAsApp:
    def db_for_read(self, model, **hints):
        return "app" if model._meta.label == "prodpatterns.AuditLog" else None


class MigrateDefaultOnly:
    """Only ``default`` is migrated: the test settings' other aliases are mirrors of it (the
    same database through other roles), or the in-memory SQLite the vendor check reads.

    Saying so keeps what asks the router before connecting away from aliases a test has not
    opened: Django 6.1's ``GeneratedField`` check (it reads each database's server version)
    and ``makemigrations``' history check (which looks at every alias once a router is set).
    """

    def allow_migrate(self, db, app_label, **hints):
        return None if db == "default" else False
