"""Drift: compare the DDL PostgreSQL has with what the models and the current versions generate.

Used by ``manage.py prodpatterns check``. Someone with owner rights who rewrites a policy
(``USING (true OR ...)``), switches RLS off, adds a policy, drops, disables or re-points a
capture trigger, drops a tenant key, or replaces one of the app's functions with another
body or without ``SECURITY DEFINER`` shows up as a difference, one line each.

Everything is compared by its normalised definition, never by a substring:

- policies and triggers: the expected ones are created from their versioned templates on
  temporary copies of the tables, inside a transaction that is rolled back, and PostgreSQL
  deparses both sides (policies) or both catalog rows are compared field by field
  (triggers: events, timing, level, function, arguments, transition tables);
- tenant keys: the catalog row (columns, referenced table and columns, deferral);
- functions: the body PostgreSQL stores (the text between the dollar quotes, verbatim) and
  the attributes (SECURITY DEFINER, settings, volatility) against the current version's
  file, its fragments expanded (``versioned.sql_file``).

The real tables are never touched; the temporary copies need the TEMPORARY privilege,
which the owner role has (the application role does not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.apps import apps
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import CursorWrapper

from ..db.audit import TRIGGER_SUFFIXES, AuditTriggers
from ..db.citus import CitusTenantForeignKey, DistributedTable, ReferenceTable, is_citus
from ..db.constraints import (
    TENANT_FUNCTION,
    RowLevelSecurity,
    TenantForeignKey,
    ThroughRowLevelSecurity,
)
from ..db.names import RAW_TENANT_SETTING
from ..db.versioned import (
    CURRENT_FUNCTIONS,
    SCHEMA,
    current_function_file,
    current_schema,
    sql_file,
)

# The files whose functions the app's latest migrations installed: the yardstick for the
# functions in the database. The registry is versioned.CURRENT_FUNCTIONS, which the
# migration that ships a new version updates. Read with their fragments expanded, as the
# migrations ran them: the body compared is the one PostgreSQL stores.
FUNCTION_FILES = tuple(current_function_file(kind) for kind in CURRENT_FUNCTIONS)
AUDIT_LOG_TABLE = "prodpatterns_auditlog"
# The audit log's own guard: (trigger, function) pairs, each BEFORE ... FOR EACH STATEMENT.
AUDIT_LOG_TRIGGERS = (
    ("prodpatterns_auditlog_append_only", "prodpatterns_audit_append_only()"),
    ("prodpatterns_auditlog_no_truncate", "prodpatterns_audit_append_only()"),
)
AUDIT_LOG_POLICY = "prodpatterns_auditlog_tenant"
AUDIT_LOG_CONDITION = "tenant_id IS NOT DISTINCT FROM (SELECT {schema}.prodpatterns_tenant_id())"
# The log distributed on Citus (prodpatterns_private.distribute_log()): no subquery.
DISTRIBUTED_LOG_CONDITION = "tenant_id IS NOT DISTINCT FROM {schema}.prodpatterns_tenant_id()"


@dataclass(frozen=True)
class Generated:
    """One model's (or link table's) generated DDL of one kind."""

    label: str  # the model (and field, for a link table)
    table: str
    model: Any  # the model class (None for the audit log's own policy and triggers)
    constraint: Any  # a generated constraint (None for the audit log's own)

    @property
    def where(self) -> str:
        return f"{self.label} ({self.table})"


def _generated(kinds: tuple[type, ...]) -> list[Generated]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for constraint in model._meta.constraints:
            if not isinstance(constraint, kinds):
                continue
            label, table = model._meta.label, model._meta.db_table
            if isinstance(constraint, (ThroughRowLevelSecurity, AuditTriggers)):
                field = getattr(constraint, "field", None)
                if field:
                    label = f"{label}.{field}"
                    m2m = cast(models.ManyToManyField, model._meta.get_field(field))
                    through = m2m.remote_field.through
                    assert through is not None  # resolved once the apps are ready
                    table = through._meta.db_table
            found.append(Generated(label, table, model, constraint))
    return found


def expected_policies() -> list[Generated]:
    """One entry per table the installed tenant models protect."""
    return _generated((RowLevelSecurity, ThroughRowLevelSecurity))


def _visible_tables(cursor: CursorWrapper, tables: list[str]) -> dict[str, tuple[bool, bool]]:
    cursor.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class"
        " WHERE relname = ANY(%s) AND relkind IN ('r', 'p')"
        " AND pg_catalog.pg_table_is_visible(oid)",
        [tables],
    )
    return {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}


POLICIES_SQL = """
    SELECT c.relname, p.polname,
           coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''),
           coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), ''),
           p.polcmd, p.polpermissive, p.polroles = '{{0}}'
    FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
    WHERE {namespace} AND c.relname = ANY(%s)
"""
TRIGGERS_SQL = """
    SELECT c.relname, t.tgname, t.tgtype, t.tgfoid::regprocedure::text,
           encode(t.tgargs, 'escape'), coalesce(t.tgoldtable, ''), coalesce(t.tgnewtable, ''),
           t.tgqual IS NULL, t.tgenabled
    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
    WHERE NOT t.tgisinternal AND {namespace} AND c.relname = ANY(%s)
"""
# The real tables (those the path finds, before any copy exists) and the temporary copies.
REAL = "pg_catalog.pg_table_is_visible(c.oid)"
TEMP = "c.relnamespace = pg_catalog.pg_my_temp_schema()"


def one_line(value: object) -> str:
    """A deparsed expression on one line (one difference, one line)."""
    return " ".join(str(value).split())


def describe_trigger_type(tgtype: int) -> str:
    """``pg_trigger.tgtype`` in words (timing, events, level)."""
    timing = "INSTEAD OF" if tgtype & 64 else "BEFORE" if tgtype & 2 else "AFTER"
    events = [
        name
        for bit, name in ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE"))
        if tgtype & bit
    ]
    level = "ROW" if tgtype & 1 else "STATEMENT"
    return f"{timing} {' OR '.join(events)} FOR EACH {level}"


def _rows(
    cursor: CursorWrapper, query: str, namespace: str, tables: list[str]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    cursor.execute(query.format(namespace=namespace), [tables])
    return {(row[0], row[1]): tuple(row[2:]) for row in cursor.fetchall()}


@dataclass(frozen=True)
class Tables:
    """One look at the tables whose policies and triggers the app generates: what the
    database has, and what the generated DDL makes of temporary copies of the same tables,
    read in one pass (one transaction, one copy of each table, rolled back)."""

    flags: dict[str, tuple[bool, bool]]  # table: (row level security enabled, forced)
    installed_policies: dict[tuple[str, str], tuple[Any, ...]]
    installed_triggers: dict[tuple[str, str], tuple[Any, ...]]
    policies: dict[tuple[str, str], tuple[Any, ...]]  # as generated, on the copies
    triggers: dict[tuple[str, str], tuple[Any, ...]]


Build = Callable[[CursorWrapper, BaseDatabaseSchemaEditor, Generated, str], None]


def read_tables(connection: BaseDatabaseWrapper, items: list[tuple[Generated, Build]]) -> Tables:
    """:class:`Tables` for ``items``: each (what is generated, how to create it on a copy,
    from the cursor, a schema editor, the item and the copy's quoted name). Items whose
    table is missing are left out of the copies (the checks report the table)."""
    quote = connection.ops.quote_name
    tables = sorted({item.table for item, _ in items})
    with connection.cursor() as cursor:
        flags = _visible_tables(cursor, tables)
        installed_policies = _rows(cursor, POLICIES_SQL, REAL, tables)
        installed_triggers = _rows(cursor, TRIGGERS_SQL, REAL, tables)
    present = [(item, build) for item, build in items if item.table in flags]
    copied = sorted({item.table for item, _ in present})
    if not copied:
        return Tables(flags, installed_policies, installed_triggers, {}, {})
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for table in copied:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {quote(table)} (LIKE {quote(table)}) ON COMMIT DROP"
            )
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            for item, build in present:
                build(cursor, editor, item, f"pg_temp.{quote(item.table)}")
        policies = _rows(cursor, POLICIES_SQL, TEMP, copied)
        triggers = _rows(cursor, TRIGGERS_SQL, TEMP, copied)
        transaction.set_rollback(True, using=connection.alias)
    return Tables(flags, installed_policies, installed_triggers, policies, triggers)


def _create_from_template(
    cursor: CursorWrapper, editor: BaseDatabaseSchemaEditor, item: Generated, table: str
) -> None:
    values = {**item.constraint.values(item.model, editor), "table": table}
    if isinstance(item.constraint, (RowLevelSecurity, ThroughRowLevelSecurity)):
        values["condition"] = item.constraint.template.statement("condition", values)
    for statement in item.constraint.template.statements("create", values):
        cursor.execute(statement)


POLICY_FIELDS = ("USING", "WITH CHECK", "command", "permissive", "for every role")


def policy_differences(expected: list[Generated], tables: Tables) -> list[str]:
    """Row level security on every table the models protect, policy by policy."""
    found = []
    for item in expected:
        if item.table not in tables.flags:
            found.append(f"{item.where}: table missing")
            continue
        enabled, forced = tables.flags[item.table]
        if not enabled:
            found.append(f"{item.where}: row level security is disabled")
        if not forced:
            found.append(f"{item.where}: row level security is not forced")
        key = (item.table, item.constraint.name)
        if key not in tables.installed_policies:
            found.append(f"{item.where}: policy {item.constraint.name} missing")
            continue
        have, want = tables.installed_policies[key], tables.policies[key]
        for field, value, wanted in zip(POLICY_FIELDS, have, want, strict=True):
            if value != wanted:
                found.append(
                    f"{item.where}: policy {item.constraint.name} {field} ({one_line(value)}),"
                    f" expected ({one_line(wanted)})"
                )
    known = {(e.table, e.constraint.name) for e in expected}
    protected = {e.table for e in expected}
    for table, policy in sorted(set(tables.installed_policies) - known):
        if table in protected:
            found.append(f"{table}: unexpected policy {policy}")
    return found


TRIGGER_FIELDS = ("type", "function", "arguments", "old table", "new table", "no WHEN")


def trigger_differences(expected: list[Generated], tables: Tables) -> list[str]:
    """Every audited table (and link table) has its three capture triggers, as generated."""
    found = []
    for item in expected:
        if item.table not in tables.flags:
            found.append(f"{item.where}: table missing")
            continue
        for suffix in TRIGGER_SUFFIXES:
            name = item.constraint.name + suffix
            have = tables.installed_triggers.get((item.table, name))
            if have is None:
                found.append(f"{item.where}: audit trigger {name} missing")
                continue
            if have[-1] == "D":
                found.append(f"{item.where}: audit trigger {name} is disabled")
            want = tables.triggers[(item.table, name)]
            for field, value, wanted in zip(TRIGGER_FIELDS, have[:-1], want[:-1], strict=True):
                if field == "type":
                    value, wanted = describe_trigger_type(value), describe_trigger_type(wanted)
                if value != wanted:
                    found.append(
                        f"{item.where}: audit trigger {name} {field} {value!r}, expected {wanted!r}"
                    )
    return found


TENANT_KEY_SQL = """
    SELECT (SELECT relname FROM pg_catalog.pg_class WHERE oid = c.confrelid),
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                 ORDER BY k.i),
           ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                 ORDER BY k.i),
           c.condeferrable, c.condeferred
    FROM pg_catalog.pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid = to_regclass(%s) AND c.conname = %s
"""


# A foreign key on the reference column alone, to the same table (Django's own, which the
# tenant key replaces: beside it, another tenant's key and an unused one fail differently).
SINGLE_COLUMN_KEY_SQL = """
    SELECT c.conname FROM pg_catalog.pg_constraint c
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.conrelid = to_regclass(%s) AND cardinality(c.conkey) = 1
      AND a.attname = %s
      AND c.confrelid = (SELECT oid FROM pg_catalog.pg_class
                         WHERE relname = %s AND pg_catalog.pg_table_is_visible(oid))
"""


def _key(columns: list[str], target: list[str], deferrable: bool, deferred: bool) -> str:
    timing = " DEFERRABLE" if deferrable else ""
    timing += " INITIALLY DEFERRED" if deferred else ""
    return f"({', '.join(columns)}) -> ({', '.join(target)}){timing}"


def tenant_key_differences(connection: BaseDatabaseWrapper) -> list[str]:
    """Every reference between tenant models is its (tenant, key) foreign key, deferred
    (on Citus, checked at once)."""
    found = []
    with connection.cursor() as cursor:
        for item in _generated((TenantForeignKey,)):
            opts = item.model._meta
            fk = opts.get_field(item.constraint.field)
            target = fk.related_model._meta
            tenant = item.constraint.tenant_field
            where = f"{opts.label}.{fk.name} ({opts.db_table})"
            # Deferred, as Django's keys are; on Citus checked at once (CitusTenantForeignKey).
            deferred = not isinstance(item.constraint, CitusTenantForeignKey)
            want = (
                [opts.get_field(tenant).column, fk.column],
                [target.get_field(tenant).column, fk.target_field.column],
                deferred,
                deferred,
            )
            cursor.execute(
                SINGLE_COLUMN_KEY_SQL,
                [connection.ops.quote_name(opts.db_table), fk.column, target.db_table],
            )
            for (name,) in cursor.fetchall():
                found.append(
                    f"{where}: single-column foreign key {name} beside the tenant key"
                    " (it tells another tenant's keys from unused ones; drop it)"
                )
            cursor.execute(
                TENANT_KEY_SQL, [connection.ops.quote_name(opts.db_table), item.constraint.name]
            )
            row = cursor.fetchone()
            if row is None:
                found.append(f"{where}: tenant key {item.constraint.name} missing")
                continue
            referenced, columns, target_columns, deferrable, deferred = row
            if referenced != target.db_table:
                found.append(
                    f"{where}: tenant key references {referenced}, expected {target.db_table}"
                )
            if (columns, target_columns, deferrable, deferred) != want:
                have = (columns, target_columns, deferrable, deferred)
                found.append(f"{where}: tenant key {_key(*have)}, expected {_key(*want)}")
    return found


# --- functions ------------------------------------------------------------------------------

FUNCTION_RE = re.compile(
    r"CREATE OR REPLACE FUNCTION (?P<name>[^\s(]+)\((?P<args>[^)]*)\)(?P<header>.*?)"
    r"\bAS \$(?P<tag>\w*)\$(?P<body>.*?)\$(?P=tag)\$",
    re.DOTALL,
)
VOLATILITY = {"IMMUTABLE": "i", "STABLE": "s", "VOLATILE": "v"}


@dataclass(frozen=True)
class Function:
    """A function as a versioned file defines it: what PostgreSQL stores of it."""

    file: str
    name: str  # as the file writes it, schema placeholder dropped
    signature: str  # schema-qualified, for to_regprocedure
    body: str
    definer: bool
    settings: tuple[str, ...]
    volatility: str


def defined_functions(sql: str, file: str, schema: str) -> list[Function]:
    """The functions ``sql`` (a versioned file) creates, in ``schema`` (quoted)."""
    functions = []
    for match in FUNCTION_RE.finditer(sql.replace(SCHEMA, schema)):
        header = "\n".join(
            line for line in match["header"].splitlines() if not line.strip().startswith("--")
        )
        words = header.split()
        types = [arg.split(None, 1)[1].strip() for arg in match["args"].split(",") if arg.strip()]
        volatility = next((VOLATILITY[w] for w in words if w in VOLATILITY), "v")
        settings = tuple(
            f"{name}={value.strip()}"
            for name, value in re.findall(r"^\s*SET (\w+) = (.+)$", header, re.MULTILINE)
        )
        signature = f"{match['name']}({', '.join(types)})"
        functions.append(
            Function(
                file,
                signature.removeprefix(f"{schema}."),
                signature,
                match["body"],
                "SECURITY DEFINER" in " ".join(words),
                settings,
                volatility,
            )
        )
    return functions


def expected_functions(connection: BaseDatabaseWrapper) -> list[Function]:
    """The functions of the current versions, as the app's migrations installed them."""
    schema = current_schema(connection)
    return [
        function
        for name in FUNCTION_FILES
        for function in defined_functions(sql_file(name), name, schema)
    ]


def function_differences(connection: BaseDatabaseWrapper) -> list[str]:
    """The app's functions are the current versions: same body, same security attributes."""
    found = []
    with connection.cursor() as cursor:
        for want in expected_functions(connection):
            cursor.execute(
                "SELECT p.prosrc, p.prosecdef, coalesce(p.proconfig, '{}'), p.provolatile"
                " FROM pg_catalog.pg_proc p WHERE p.oid = to_regprocedure(%s)",
                [want.signature],
            )
            row = cursor.fetchone()
            name = f"function {want.name}"
            if row is None:
                found.append(f"{name} missing (run migrate)")
                continue
            body, definer, settings, volatility = row
            if body != want.body:
                found.append(f"{name}: its body is not the one of {want.file}")
            if definer != want.definer:
                found.append(f"{name} is {'' if definer else 'not '}SECURITY DEFINER")
            pins = [item for item in want.settings if item.startswith("search_path=")]
            if any(pin not in settings for pin in pins):
                found.append(f"{name} does not pin search_path ({list(settings)})")
            elif sorted(settings) != sorted(want.settings):
                found.append(f"{name} sets {list(settings)}, expected {list(want.settings)}")
            if volatility != want.volatility:
                found.append(f"{name}: volatility {volatility!r}, expected {want.volatility!r}")
        cursor.execute(
            "SELECT polrelid::regclass::text, polname FROM pg_catalog.pg_policy"
            " WHERE pg_catalog.pg_get_expr(polqual, polrelid) LIKE %s"
            " OR pg_catalog.pg_get_expr(polwithcheck, polrelid) LIKE %s",
            [f"%{RAW_TENANT_SETTING}%"] * 2,
        )
        for table, policy in cursor.fetchall():
            found.append(
                f"{table}: policy {policy} reads the raw setting {RAW_TENANT_SETTING}, which "
                f"any statement can set; use {TENANT_FUNCTION}()"
            )
    return found


# --- the audit log's own guard --------------------------------------------------------------


AUDIT_LOG = Generated("prodpatterns.AuditLog", AUDIT_LOG_TABLE, None, None)


def _audit_log_guard(schema: str, distributed: bool) -> Build:
    """How the log's own policy and append-only triggers are created on its copy."""
    condition = (DISTRIBUTED_LOG_CONDITION if distributed else AUDIT_LOG_CONDITION).format(
        schema=schema
    )

    def build(
        cursor: CursorWrapper, editor: BaseDatabaseSchemaEditor, item: Generated, copy: str
    ) -> None:
        cursor.execute(
            f"CREATE POLICY {AUDIT_LOG_POLICY} ON {copy} USING ({condition})"
            f" WITH CHECK ({condition})"
        )
        for trigger, function in AUDIT_LOG_TRIGGERS:
            event = "TRUNCATE" if trigger.endswith("truncate") else "UPDATE OR DELETE"
            cursor.execute(
                f"CREATE TRIGGER {trigger} BEFORE {event} ON {copy}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {function}"
            )

    return build


def audit_log_differences(tables: Tables) -> list[str]:
    """The log keeps its row level security, its policy and its append-only triggers."""
    table = AUDIT_LOG_TABLE
    if table not in tables.flags:
        return [f"{table}: table missing (run migrate)"]

    def of_log(rows: dict[tuple[str, str], tuple[Any, ...]]) -> dict[tuple[str, str], Any]:
        return {key: row for key, row in rows.items() if key[0] == table}

    installed_policies, policies = of_log(tables.installed_policies), of_log(tables.policies)
    installed_triggers, triggers = of_log(tables.installed_triggers), of_log(tables.triggers)
    found = []
    if not tables.flags[table][0]:
        found.append(f"{table}: row level security is disabled")
    for key, want in sorted(policies.items()):
        have = installed_policies.get(key)
        if have is None:
            found.append(f"{table}: policy {key[1]} missing")
        elif have != want:
            found.append(
                f"{table}: policy {key[1]} is ({one_line(have[0])}), expected ({one_line(want[0])})"
            )
    for key in sorted(set(installed_policies) - set(policies)):
        found.append(f"{table}: unexpected policy {key[1]}")
    for key, want in sorted(triggers.items()):
        have = installed_triggers.get(key)
        if have is None:
            found.append(f"{table}: append-only trigger {key[1]} missing")
        elif have[-1] == "D":
            found.append(f"{table}: append-only trigger {key[1]} is disabled")
        elif have[:-1] != want[:-1]:
            found.append(f"{table}: append-only trigger {key[1]} differs from the app's")
    return found


def refusal(connection: BaseDatabaseWrapper, alias: str) -> str | None:
    """Why the check cannot run through ``connection`` (None: it can). The comparison
    builds the expected DDL on temporary copies of the tables, which takes the TEMPORARY
    privilege: the owner role has it, the application role must not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user,"
            " pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY')"
        )
        role, may = cursor.fetchone()
    if may:
        return None
    return (
        f"prodpatterns check builds the expected DDL on temporary tables, which role {role!r} "
        f"of database {alias!r} may not create: run it through the owner alias "
        "(--database <alias>; OWNER_DATABASE by default)."
    )


def differences(connection: BaseDatabaseWrapper) -> list[str]:
    """Every way the database differs from the models and the current versions."""
    policies = expected_policies()
    audited = _generated((AuditTriggers,))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_catalog.current_schema()")
        (schema,) = cursor.fetchone()
    guard = _audit_log_guard(connection.ops.quote_name(schema), _log_is_distributed(connection))
    tables = read_tables(
        connection,
        [
            *((item, _create_from_template) for item in [*policies, *audited]),
            (AUDIT_LOG, guard),
        ],
    )
    return [
        *policy_differences(policies, tables),
        *trigger_differences(audited, tables),
        *tenant_key_differences(connection),
        *function_differences(connection),
        *audit_log_differences(tables),
        *citus_layout_differences(connection),
    ]


def _log_is_distributed(connection: BaseDatabaseWrapper) -> bool:
    """Whether the audit log is distributed (on a Citus database, in Citus mode)."""
    if not is_citus(connection):
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition"
            " WHERE logicalrelid = pg_catalog.to_regclass(%s) AND partmethod = 'h')",
            [AUDIT_LOG_TABLE],
        )
        (distributed,) = cursor.fetchone()
    return bool(distributed)


def citus_layout_differences(connection: BaseDatabaseWrapper) -> list[str]:
    """On a Citus database: every table the models distribute is distributed by its
    tenant column, every reference table is one, and no foreign key is still set aside
    (``prodpatterns_private.citus_held_keys``) waiting for a table to be laid out."""
    if not is_citus(connection):
        return []
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.logicalrelid::text, p.partmethod, p.repmodel,"
            " pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)"
            " FROM pg_catalog.pg_dist_partition AS p"
        )
        layout = {table: (method, model, column) for table, method, model, column in cursor}
        for item in _generated((DistributedTable, ReferenceTable)):
            table = connection.ops.quote_name(item.table)
            actual = layout.get(table) or layout.get(item.table)
            if isinstance(item.constraint, ReferenceTable):
                if actual is None or actual[:2] != ("n", "t"):
                    found.append(f"{item.where}: not a reference table")
                continue
            column = item.model._meta.get_field(item.constraint.field).column
            if actual is None or actual[0] != "h":
                found.append(f"{item.where}: not distributed")
            elif actual[2] != column:
                found.append(f"{item.where}: distributed by {actual[2]}, expected {column}")
        log = layout.get(AUDIT_LOG_TABLE)
        if _generated((DistributedTable,)):
            if log is None or log[0] != "h":
                found.append(f"{AUDIT_LOG_TABLE}: not distributed beside the tenant tables")
            elif log[2] != "shard_tenant":
                found.append(f"{AUDIT_LOG_TABLE}: distributed by {log[2]}, expected shard_tenant")
        cursor.execute("SELECT to_regclass('prodpatterns_private.citus_held_keys') IS NOT NULL")
        (exists,) = cursor.fetchone()
        if exists:
            cursor.execute(
                "SELECT relation::text, name, referenced::text"
                " FROM prodpatterns_private.citus_held_keys ORDER BY 1, 2"
            )
            found += [
                f"{relation}: foreign key {name} to {referenced} is set aside until both "
                "tables are laid out (run migrate for the app that distributes them)"
                for relation, name, referenced in cursor.fetchall()
            ]
    return found


def checked(connection: BaseDatabaseWrapper) -> str:
    """What a clean check covered, in words."""
    policies = len(expected_policies())
    audited = len(_generated((AuditTriggers,)))
    keys = len(_generated((TenantForeignKey,)))
    functions = len(expected_functions(connection))
    return (
        f"{policies} policies, {audited} audited tables, {keys} tenant keys, "
        f"{functions} functions and the audit log's guard"
    )
