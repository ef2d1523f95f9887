"""System checks: misconfiguration is reported here, with an id and a hint, never raised.

=================== ==========================================================================
``prodpatterns.E001`` The database role bypasses row-level security while the project relies on
                      it (tenant models exist, or a table has row-level security enabled).
``prodpatterns.E002`` The ``PRODPATTERNS`` setting has an unknown key or an invalid value.
``prodpatterns.W001`` A database is not PostgreSQL: row-level security and the audit trail are
                      unavailable there.
``prodpatterns.W002`` The database role bypasses row-level security (no tenant models yet).
``prodpatterns.E010`` A soft delete would CASCADE into a model that cannot be soft-deleted, and
                      ``SOFT_DELETE_PLAIN_CHILDREN`` does not say what to do with it.
``prodpatterns.W010`` A soft-delete model has a ``unique=True`` field: deleted rows keep the
                      value taken.
``prodpatterns.W011`` A soft-delete model has a ``OneToOneField`` (implicitly unique).
``prodpatterns.W012`` A soft-delete model has a unique constraint that ignores ``deleted_at``.
``prodpatterns.W013`` The default manager of a soft-delete model shows deleted rows.
=================== ==========================================================================

The role checks connect to the database, so like Django's own database checks they run
only when databases are named: ``manage.py check --database default``, ``migrate`` and the
test runner do; a plain ``manage.py check`` does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, connections, models

from .conf import SETTINGS_NAME, validate

# A model class attribute that marks tenant-scoped models (set by TenantModel).
TENANT_SCOPED_ATTRIBUTE = "prodpatterns_tenant_scoped"

_ROLE_SQL = """
    SELECT current_user, r.rolsuper, r.rolbypassrls,
           EXISTS (SELECT 1 FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relrowsecurity
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
    FROM pg_roles r WHERE r.rolname = current_user
"""


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """E002: every ``PRODPATTERNS`` key is known and every value has the right shape."""
    problems = validate(getattr(settings, SETTINGS_NAME, {}))
    return [
        Error(
            problem,
            hint="See DEFAULTS in django_prodpatterns/conf.py for the settings and their types.",
            obj=SETTINGS_NAME,
            id="prodpatterns.E002",
        )
        for problem in problems
    ]


@register(Tags.database)
def check_database_vendor(
    app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[Warning]:
    """W001: row-level security and audit triggers exist only on PostgreSQL.

    Reads settings only (no connection), so it also looks at the default database when no
    database is named.
    """
    messages = []
    for alias in databases if databases is not None else [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            messages.append(
                Warning(
                    f"Database {alias!r} is {connection.display_name}, not PostgreSQL: "
                    "row-level security and the audit trail are unavailable on it.",
                    hint="Timestamps, soft delete, optimistic locking and pagination still "
                    "work; point the database at PostgreSQL 14+ for tenant isolation and "
                    "auditing.",
                    obj=alias,
                    id="prodpatterns.W001",
                )
            )
    return messages


def project_has_tenant_models() -> bool:
    """True when any installed concrete model is tenant-scoped."""
    return any(
        getattr(model, TENANT_SCOPED_ATTRIBUTE, False) and not model._meta.abstract
        for model in apps.get_models()
    )


def role_messages(alias: str, relies_on_rls: bool) -> list[Error | Warning]:
    """E001/W002 for the role that ``alias`` connects as.

    Args:
        alias: A PostgreSQL database alias.
        relies_on_rls: Whether isolation depends on row-level security already (an error)
            or not yet (a warning).
    """
    with connections[alias].cursor() as cursor:
        cursor.execute(_ROLE_SQL)
        role, is_superuser, bypasses_rls, has_rls_tables = cursor.fetchone()
    if not (is_superuser or bypasses_rls):
        return []
    why = "is a superuser" if is_superuser else "has BYPASSRLS"
    hint = (
        "Connect the application as a role with NOSUPERUSER NOBYPASSRLS that does not own "
        "the tables; run migrations through a separate owner alias "
        "(PRODPATTERNS['OWNER_DATABASE'])."
    )
    if relies_on_rls or has_rls_tables:
        return [
            Error(
                f"Database {alias!r} connects as {role!r}, which {why}: PostgreSQL skips "
                "row-level security for it, so every tenant's rows are visible and writable.",
                hint=hint,
                obj=alias,
                id="prodpatterns.E001",
            )
        ]
    return [
        Warning(
            f"Database {alias!r} connects as {role!r}, which {why}: row-level security would "
            "be silently bypassed once the project has tenant models.",
            hint=hint,
            obj=alias,
            id="prodpatterns.W002",
        )
    ]


@register(Tags.database)
def check_database_roles(
    app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[Error | Warning]:
    """E001/W002 for every named PostgreSQL database, except the owner and admin aliases."""
    if not databases:
        return []
    user_settings = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user_settings, dict):
        user_settings = {}  # reported by E002
    privileged = {user_settings.get("OWNER_DATABASE"), user_settings.get("ADMIN_DATABASE")}
    relies_on_rls = project_has_tenant_models()
    messages: list[Error | Warning] = []
    for alias in databases:
        if alias in privileged or connections[alias].vendor != "postgresql":
            continue
        messages.extend(role_messages(alias, relies_on_rls))
    return messages


def _mentions_alive(condition: Any) -> bool:
    """True when a Q object requires ``deleted_at IS NULL`` somewhere in it."""
    for child in getattr(condition, "children", ()):
        if isinstance(child, tuple) and child == ("deleted_at__isnull", True):
            return True
        if _mentions_alive(child):
            return True
    return False


def _soft_delete_models(app_configs: Any) -> list[Any]:
    from .relations import is_soft_deletable

    if app_configs is None:
        candidates = apps.get_models()
    else:
        candidates = [m for config in app_configs for m in config.get_models()]
    return [m for m in candidates if is_soft_deletable(m) and not m._meta.proxy]


@register()
def check_soft_delete_cascades(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """E010: every CASCADE into a model that cannot be soft-deleted is a declared choice."""
    from .conf import validate
    from .relations import child_edges, is_soft_deletable

    user_settings = getattr(settings, SETTINGS_NAME, {})
    if validate(user_settings):
        return []  # E002 says what is wrong first
    declared = user_settings.get("SOFT_DELETE_PLAIN_CHILDREN", {})
    messages = []
    for model in _soft_delete_models(app_configs):
        for edge in child_edges(model):
            if edge.on_delete is not models.CASCADE or is_soft_deletable(edge.child):
                continue
            label = edge.child._meta.label
            if label in declared:
                continue
            messages.append(
                Error(
                    f"Soft-deleting {model._meta.label} would CASCADE through {edge.name} into "
                    f"{label}, which cannot be soft-deleted.",
                    hint=f'Declare the choice: PRODPATTERNS["SOFT_DELETE_PLAIN_CHILDREN"]'
                    f'["{label}"] = "hard" (delete those rows for real), "keep" (leave '
                    'them) or "error" (refuse); or make the model soft-deletable.',
                    obj=model,
                    id="prodpatterns.E010",
                )
            )
    return messages


@register()
def check_soft_delete_uniqueness(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """W010-W013: uniqueness and default managers that count deleted rows."""
    messages = []
    fix = (
        "Use django_prodpatterns.models.alive_unique(...) in Meta.constraints, which only "
        "counts rows with deleted_at IS NULL."
    )
    for model in _soft_delete_models(app_configs):
        opts = model._meta
        for field in opts.local_concrete_fields:
            if field.primary_key or not field.unique:
                continue
            if field.one_to_one:
                if field.remote_field.parent_link:
                    continue
                messages.append(
                    Warning(
                        f"{opts.label}.{field.name} is a OneToOneField, so it is unique across "
                        "deleted rows too: a soft-deleted row blocks a new one for the same "
                        f"{field.related_model._meta.object_name}.",
                        hint="If rows are re-created after a soft delete, use a ForeignKey "
                        "with alive_unique(...); otherwise silence prodpatterns.W011.",
                        obj=field,
                        id="prodpatterns.W011",
                    )
                )
            else:
                messages.append(
                    Warning(
                        f"{opts.label}.{field.name} has unique=True: a soft-deleted row keeps "
                        "its value taken.",
                        hint=fix,
                        obj=field,
                        id="prodpatterns.W010",
                    )
                )
        plain_unique = [", ".join(fields) for fields in opts.unique_together] + [
            c.name
            for c in opts.constraints
            if isinstance(c, models.UniqueConstraint) and not _mentions_alive(c.condition)
        ]
        for name in plain_unique:
            messages.append(
                Warning(
                    f"{opts.label} has a unique constraint ({name}) that counts soft-deleted rows.",
                    hint=fix,
                    obj=model,
                    id="prodpatterns.W012",
                )
            )
        if 'deleted_at" IS NULL' not in str(model._default_manager.all().query):
            messages.append(
                Warning(
                    f"The default manager of {opts.label} ({model._default_manager.name}) shows "
                    "soft-deleted rows, so admin lists, forms and related managers will too.",
                    hint="Put SoftDeleteModel before other bases that declare 'objects', or "
                    "build your manager from SoftDeleteQuerySet and filter .alive().",
                    obj=model,
                    id="prodpatterns.W013",
                )
            )
    return messages
