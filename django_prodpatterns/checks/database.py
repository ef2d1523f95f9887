"""Checks on settings and on the database connection: E001, E002, W001, W002."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, connections

from ..conf import SETTINGS_NAME, validate


def installed_models(app_configs: Any, marker: str) -> list[Any]:
    """Concrete, non-proxy models (of ``app_configs``, or all) whose class sets ``marker``."""
    if app_configs is None:
        candidates = apps.get_models()
    else:
        candidates = [m for config in app_configs for m in config.get_models()]
    return [m for m in candidates if getattr(m, marker, False) and not m._meta.proxy]


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
    from .tenancy import tenant_models

    return bool(tenant_models())


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
