"""Compare the row level security and audit capture PostgreSQL has with what the models say.

Used by ``manage.py prodpatterns rls check``: a policy dropped or rewritten by hand (say
``USING (true OR tenant_id = ...)``), a table whose RLS was switched off, a stray policy, an
audit trigger dropped or disabled, or a security-relevant function that lost its
``SECURITY DEFINER`` or pinned ``search_path`` all show up as differences.

Policies are compared by their normalised definition: PostgreSQL deparses both the
installed policy and the one the models generate (created for the comparison on a
temporary copy of the table, inside a transaction that is rolled back), so formatting
and casts never count, and any change in meaning does. The real tables are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction

from .audit import AuditTriggers
from .constraints import TENANT_FUNCTION, RowLevelSecurity, ThroughRowLevelSecurity

# Functions whose security attributes the isolation depends on: (signature, SECURITY
# DEFINER expected, search_path pinned by a SET clause expected). The signed context's
# per-statement functions name everything with its schema instead of pinning the path
# (a SET clause costs a setting change per call).
SECURE_FUNCTIONS = (
    ("prodpatterns_verified_context()", True, False),
    ("prodpatterns_tenant_id()", True, False),
    ("prodpatterns_private.verify_context(text)", True, True),
    ("prodpatterns_private.set_context(text)", True, True),
    ("prodpatterns_private.open_context()", True, True),
    ("prodpatterns_audit()", True, True),
    ("prodpatterns_stage(regclass, text[])", True, True),
    ("prodpatterns_audit_append_only()", False, True),
)
AUDIT_SUFFIXES = ("_ins", "_upd", "_del")


@dataclass(frozen=True)
class ExpectedPolicy:
    label: str  # the model (and field, for a link table)
    table: str
    policy: str
    model: Any = None
    constraint: Any = None


def expected_policies() -> list[ExpectedPolicy]:
    """One entry per table the installed tenant models protect."""
    expected = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for constraint in model._meta.constraints:
            if isinstance(constraint, RowLevelSecurity):
                expected.append(
                    ExpectedPolicy(
                        model._meta.label, model._meta.db_table, constraint.name, model, constraint
                    )
                )
            elif isinstance(constraint, ThroughRowLevelSecurity):
                through = model._meta.get_field(constraint.field).remote_field.through
                expected.append(
                    ExpectedPolicy(
                        f"{model._meta.label}.{constraint.field}",
                        through._meta.db_table,
                        constraint.name,
                        model,
                        constraint,
                    )
                )
    return expected


def _installed(cursor: Any, tables: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    cursor.execute(
        "SELECT tablename, policyname, coalesce(qual, ''), coalesce(with_check, '')"
        " FROM pg_policies WHERE tablename = ANY(%s)"
        " AND schemaname = ANY(current_schemas(false))",
        [tables],
    )
    return {(t, p): (qual, check) for t, p, qual, check in cursor.fetchall()}


def _generated(connection: Any, expected: list[ExpectedPolicy]) -> dict[tuple[str, str], Any]:
    """The models' policies as PostgreSQL deparses them, made on temporary copies of the
    tables (same names, so the temporary schema, searched first, resolves them)."""
    quote = connection.ops.quote_name
    tables = sorted({e.table for e in expected})
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {quote(table)} (LIKE {quote(table)}) ON COMMIT DROP"
            )
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            for item in expected:
                condition = item.constraint.condition_sql(item.model, editor)
                cursor.execute(
                    f"CREATE POLICY {quote(item.policy)} ON pg_temp.{quote(item.table)}"
                    f" USING ({condition}) WITH CHECK ({condition})"
                )
        cursor.execute(
            "SELECT tablename, policyname, coalesce(qual, ''), coalesce(with_check, '')"
            " FROM pg_policies WHERE schemaname = (SELECT nspname FROM pg_namespace"
            " WHERE oid = pg_my_temp_schema())"
        )
        generated = {(t, p): (qual, check) for t, p, qual, check in cursor.fetchall()}
        transaction.set_rollback(True, using=connection.alias)
    return generated


def policy_differences(connection: Any) -> list[str]:
    """Row level security on every table the models protect, policy by policy."""
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
        installed = _installed(cursor, tables)
    present = [e for e in expected if e.table in flags]
    generated = _generated(connection, present) if present else {}
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
        key = (item.table, item.policy)
        if key not in installed:
            found.append(f"{where}: policy {item.policy} missing")
        elif installed[key] != generated.get(key):
            qual, check = installed[key]
            want_qual, want_check = generated.get(key, ("", ""))
            if qual != want_qual:
                found.append(
                    f"{where}: policy {item.policy} USING ({qual}), expected ({want_qual})"
                )
            if check != want_check:
                found.append(
                    f"{where}: policy {item.policy} WITH CHECK ({check}), expected ({want_check})"
                )
    known = {(e.table, e.policy) for e in expected}
    for table, policy in sorted(set(installed) - known):
        found.append(f"{table}: unexpected policy {policy}")
    return found


def trigger_differences(connection: Any) -> list[str]:
    """Every audited table (and link table) has its three capture triggers, enabled."""
    expected = [
        (model, constraint)
        for model in apps.get_models()
        if not model._meta.proxy
        for constraint in model._meta.constraints
        if isinstance(constraint, AuditTriggers)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)"
        )
        triggers = {(table, name): enabled for table, name, enabled in cursor.fetchall()}
    found = []
    for model, constraint in expected:
        table = constraint.table(model)
        for suffix in AUDIT_SUFFIXES:
            name = constraint.name + suffix
            state = triggers.get((table, name))
            if state is None:
                found.append(f"{model._meta.label} ({table}): audit trigger {name} missing")
            elif state == "D":
                found.append(f"{model._meta.label} ({table}): audit trigger {name} is disabled")
    return found


def function_differences(connection: Any) -> list[str]:
    """The app's functions keep SECURITY DEFINER where they need it and a pinned path."""
    found = []
    with connection.cursor() as cursor:
        for signature, definer, pinned in SECURE_FUNCTIONS:
            cursor.execute(
                "SELECT p.prosecdef, coalesce(p.proconfig, '{}')"
                " FROM pg_proc p WHERE p.oid = to_regprocedure(%s)",
                [signature],
            )
            row = cursor.fetchone()
            if row is None:
                found.append(f"function {signature} missing (run migrate)")
                continue
            secdef, config = row
            if secdef != definer:
                found.append(f"function {signature} is {'' if secdef else 'not '}SECURITY DEFINER")
            if pinned and "search_path=pg_catalog, pg_temp" not in config:
                found.append(f"function {signature} does not pin search_path ({config})")
        cursor.execute(
            "SELECT polrelid::regclass::text, polname FROM pg_policy"
            " WHERE pg_get_expr(polqual, polrelid) LIKE %s"
            " OR pg_get_expr(polwithcheck, polrelid) LIKE %s",
            ["%prodpatterns.tenant_id%"] * 2,
        )
        for table, policy in cursor.fetchall():
            found.append(
                f"{table}: policy {policy} reads the raw setting prodpatterns.tenant_id, which "
                f"any statement can set; use {TENANT_FUNCTION}()"
            )
    return found


def differences(connection: Any) -> list[str]:
    """Every way the database differs from the models (empty when they agree)."""
    return [
        *policy_differences(connection),
        *trigger_differences(connection),
        *function_differences(connection),
    ]
