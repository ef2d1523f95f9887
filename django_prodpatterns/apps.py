"""App configuration: the one place that wires the app into Django at start-up."""

from django.apps import AppConfig


class ProdPatternsConfig(AppConfig):
    """Registers the system checks and attaches the context channel to new connections.

    Nothing here raises on misconfiguration: problems are reported by the system checks in
    :mod:`django_prodpatterns.checks`, so ``manage.py check`` can explain them.
    """

    name = "django_prodpatterns"
    label = "prodpatterns"
    verbose_name = "Production patterns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from . import checks  # noqa: F401  (registers the checks)
        from .db import session, signing
        from .models.links import hide_deleted_links

        connection_created.connect(
            session.install, dispatch_uid="django_prodpatterns.db.session.install"
        )
        # The signed context's key follows SECRET_KEY: written before and after every
        # migrate (before: so data migrations run with it; after: a new database).
        for when, signal in (("pre", pre_migrate), ("post", post_migrate)):
            signal.connect(signing.install_key, sender=self, dispatch_uid=f"prodpatterns.{when}")
        post_migrate.connect(signing.rebind_all, sender=self, dispatch_uid="prodpatterns.rebind")
        session.install_on_open_connections()
        self.link_audit_history()
        assert self.apps is not None  # the registry sets it before ready()
        hide_deleted_links(self.apps.get_models(include_auto_created=True))

    def link_audit_history(self) -> None:
        """Point "History" of every registered audited model's admin at its audit entries.

        Works for admins registered before this app is ready (``django.contrib.admin``
        listed first, as usual); ``AuditHistoryMixin`` does the same explicitly.
        """
        assert self.apps is not None  # the registry sets it before ready()
        if not self.apps.is_installed("django.contrib.admin"):
            return
        from types import MethodType

        from django.contrib import admin

        from .admin.audit import AuditHistoryMixin
        from .markers import is_audited

        for model, model_admin in admin.site._registry.items():
            if is_audited(model) and not isinstance(model_admin, AuditHistoryMixin):
                # This admin's own view replaces its class's one (mypy: no method assignment).
                model_admin.history_view = MethodType(  # type: ignore[method-assign]
                    AuditHistoryMixin.history_view, model_admin
                )
