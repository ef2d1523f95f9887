"""Compare the row level security PostgreSQL has with what the models say it should have.

Used by ``manage.py prodpatterns rls check``: a policy dropped by hand, a table whose RLS was
switched off, or a stray policy all show up as differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps

from .constraints import TENANT_SETTING, RowLevelSecurity, ThroughRowLevelSecurity


@dataclass(frozen=True)
class ExpectedPolicy:
    label: str  # the model (and field, for a link table)
    table: str
    policy: str
    reads_tenant_setting: bool = True  # link-table policies follow their ends instead


def expected_policies() -> list[ExpectedPolicy]:
    """One entry per table the installed tenant models protect."""
    expected = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for constraint in model._meta.constraints:
            if isinstance(constraint, RowLevelSecurity):
                expected.append(
                    ExpectedPolicy(model._meta.label, model._meta.db_table, constraint.name)
                )
            elif isinstance(constraint, ThroughRowLevelSecurity):
                through = model._meta.get_field(constraint.field).remote_field.through
                expected.append(
                    ExpectedPolicy(
                        f"{model._meta.label}.{constraint.field}",
                        through._meta.db_table,
                        constraint.name,
                        reads_tenant_setting=False,
                    )
                )
    return expected


def differences(connection: Any) -> list[str]:
    """Every way the database differs from the models (empty when they agree)."""
    expected = expected_policies()
    tables = sorted({e.table for e in expected})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relname = ANY(%s) AND relkind IN ('r', 'p')"
            " AND pg_table_is_visible(oid)",
            [tables],
        )
        flags = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}
        cursor.execute(
            "SELECT tablename, policyname, qual, with_check FROM pg_policies"
            " WHERE tablename = ANY(%s) AND schemaname = ANY(current_schemas(false))",
            [tables],
        )
        policies = {(t, p): (qual or "", check or "") for t, p, qual, check in cursor.fetchall()}
    found = []
    for item in expected:
        where = f"{item.label} ({item.table})"
        if item.table not in flags:
            found.append(f"{where}: table missing")
            continue
        enabled, forced = flags[item.table]
        if not enabled:
            found.append(f"{where}: row level security is disabled")
        if not forced:
            found.append(f"{where}: row level security is not forced")
        qual, check = policies.get((item.table, item.policy), (None, None))
        if qual is None:
            found.append(f"{where}: policy {item.policy} missing")
        elif item.reads_tenant_setting and not all(
            TENANT_SETTING in text for text in (qual, check)
        ):
            found.append(f"{where}: policy {item.policy} does not use {TENANT_SETTING}")
    known = {(e.table, e.policy) for e in expected}
    for table, policy in sorted(set(policies) - known):
        found.append(f"{table}: unexpected policy {policy}")
    return found
