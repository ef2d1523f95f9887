"""``prodpatterns check``: a hand-made change to the app's DDL is reported, one line each.

Each case makes a change with owner rights (what an operator, a restored dump or a
hostile migration could do), runs the check, expects exit 1 and the line that names the
change, undoes it and expects a clean check again. Policies, triggers and tenant keys are
compared by their normalised definition; functions by body and attributes against the
current version's file.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from django_prodpatterns.db.audit import AUDIT_FUNCTION
from django_prodpatterns.db.versioned import in_schema, sql_file
from django_prodpatterns.ops.drift import FUNCTION_FILES, defined_functions, expected_functions
from tests.helpers import APP

ARGS = "'testapp.Ticket', 'id', 'tenant_id', '[]', '[]'"
UPDATE_TRIGGER = (
    "CREATE TRIGGER testapp_ticket_audit_upd AFTER UPDATE ON testapp_ticket"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({args})"
)
TENANT_ID_BODY = """
CREATE OR REPLACE FUNCTION prodpatterns_tenant_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
AS $fn$ BEGIN RETURN '1'; END $fn$
"""
TASK_KEY = "testapp_task_project_tenant_fk"
TASK_KEY_SQL = (
    f"ALTER TABLE testapp_task ADD CONSTRAINT {TASK_KEY} FOREIGN KEY (tenant_id, project_id)"
    " REFERENCES testapp_project (tenant_id, id) {timing}"
)
RESTORE_FUNCTIONS = "restore the functions"

pytestmark = pytest.mark.django_db


def check() -> str:
    stream = StringIO()
    call_command("prodpatterns", "check", stdout=stream)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("change", "undo", "reported"),
    [
        (
            "DROP TRIGGER testapp_ticket_audit_upd ON testapp_ticket; "
            + UPDATE_TRIGGER.format(
                args="'testapp.Ticket', 'id', 'tenant_id', '[]', '[\"title\"]'"
            ),
            "DROP TRIGGER testapp_ticket_audit_upd ON testapp_ticket; "
            + UPDATE_TRIGGER.format(args=ARGS),
            "audit trigger testapp_ticket_audit_upd arguments",
        ),
        (
            "DROP TRIGGER testapp_ticket_audit_del ON testapp_ticket",
            "CREATE TRIGGER testapp_ticket_audit_del AFTER DELETE ON testapp_ticket"
            " REFERENCING OLD TABLE AS old_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({ARGS})",
            "testapp.Ticket (testapp_ticket): audit trigger testapp_ticket_audit_del missing",
        ),
        (
            "DROP TRIGGER testapp_ticket_audit_upd ON testapp_ticket; "
            "CREATE TRIGGER testapp_ticket_audit_upd AFTER INSERT ON testapp_ticket"
            " REFERENCING NEW TABLE AS new_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({ARGS})",
            "DROP TRIGGER testapp_ticket_audit_upd ON testapp_ticket; "
            + UPDATE_TRIGGER.format(args=ARGS),
            "audit trigger testapp_ticket_audit_upd type 'AFTER INSERT FOR EACH STATEMENT',"
            " expected 'AFTER UPDATE FOR EACH STATEMENT'",
        ),
        (
            TENANT_ID_BODY,
            RESTORE_FUNCTIONS,
            "function prodpatterns_tenant_id(): its body is not the one of"
            " context_functions_v3.sql",
        ),
        (
            "ALTER FUNCTION prodpatterns_private.set_context(text) SET work_mem = '64MB'",
            "ALTER FUNCTION prodpatterns_private.set_context(text) RESET work_mem",
            "function prodpatterns_private.set_context(text) sets",
        ),
        (
            "ALTER FUNCTION prodpatterns_tenant_id() VOLATILE",
            "ALTER FUNCTION prodpatterns_tenant_id() STABLE",
            "function prodpatterns_tenant_id(): volatility 'v', expected 's'",
        ),
        (
            f"ALTER TABLE testapp_task DROP CONSTRAINT {TASK_KEY}",
            TASK_KEY_SQL.format(timing="DEFERRABLE INITIALLY DEFERRED"),
            f"testapp.Task.project (testapp_task): tenant key {TASK_KEY} missing",
        ),
        (
            f"ALTER TABLE testapp_task DROP CONSTRAINT {TASK_KEY}; "
            + TASK_KEY_SQL.format(timing="NOT DEFERRABLE"),
            f"ALTER TABLE testapp_task DROP CONSTRAINT {TASK_KEY}; "
            + TASK_KEY_SQL.format(timing="DEFERRABLE INITIALLY DEFERRED"),
            "tenant key (tenant_id, project_id) -> (tenant_id, id), expected"
            " (tenant_id, project_id) -> (tenant_id, id) DEFERRABLE INITIALLY DEFERRED",
        ),
        (
            "ALTER TABLE testapp_task ADD CONSTRAINT stray_fk FOREIGN KEY (project_id)"
            " REFERENCES testapp_project (id)",
            "ALTER TABLE testapp_task DROP CONSTRAINT stray_fk",
            "testapp.Task.project (testapp_task): single-column foreign key stray_fk beside"
            " the tenant key",
        ),
        (
            "ALTER POLICY testapp_task_labels_rls ON testapp_task_labels USING (true)",
            "ALTER POLICY testapp_task_labels_rls ON testapp_task_labels USING ("
            "EXISTS (SELECT 1 FROM testapp_task AS t WHERE t.id = testapp_task_labels.task_id)"
            " AND EXISTS (SELECT 1 FROM testapp_label AS t"
            " WHERE t.id = testapp_task_labels.label_id))",
            "policy testapp_task_labels_rls USING (true)",
        ),
        (
            "ALTER POLICY testapp_project_tenant_rls ON testapp_project TO PUBLIC"
            " WITH CHECK (true)",
            "ALTER POLICY testapp_project_tenant_rls ON testapp_project"
            " WITH CHECK (tenant_id = (SELECT prodpatterns_tenant_id())::bigint)",
            "policy testapp_project_tenant_rls WITH CHECK (true)",
        ),
        (
            "ALTER TABLE prodpatterns_auditlog DISABLE TRIGGER prodpatterns_auditlog_append_only",
            "ALTER TABLE prodpatterns_auditlog ENABLE TRIGGER prodpatterns_auditlog_append_only",
            "prodpatterns_auditlog: append-only trigger prodpatterns_auditlog_append_only"
            " is disabled",
        ),
        (
            "ALTER POLICY prodpatterns_auditlog_tenant ON prodpatterns_auditlog USING (true)",
            "ALTER POLICY prodpatterns_auditlog_tenant ON prodpatterns_auditlog"
            " USING (tenant_id IS NOT DISTINCT FROM (SELECT prodpatterns_tenant_id()))",
            "prodpatterns_auditlog: policy prodpatterns_auditlog_tenant is (true)",
        ),
        (
            "ALTER TABLE prodpatterns_auditlog DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE prodpatterns_auditlog ENABLE ROW LEVEL SECURITY",
            "prodpatterns_auditlog: row level security is disabled",
        ),
    ],
    ids=[
        "trigger re-pointed",
        "trigger dropped",
        "trigger on another event",
        "function body replaced",
        "function setting added",
        "function volatility",
        "tenant key dropped",
        "tenant key checked at once",
        "single-column key beside",
        "link policy opened",
        "policy check opened",
        "log guard disabled",
        "log policy opened",
        "log rls off",
    ],
)
def test_the_check_reports_a_hand_made_change(fails, change, undo, reported):
    assert "matches the models" in check()
    with connections["default"].cursor() as cursor:
        cursor.execute(change)
    try:
        status, err = fails("prodpatterns", "check")
    finally:
        with connections["default"].cursor() as cursor:
            if undo == RESTORE_FUNCTIONS:
                cursor.execute(in_schema(sql_file("context_functions_v3.sql"), cursor.db))
            else:
                cursor.execute(undo)
    assert status == 1
    assert reported in err, err
    *lines, last = err.splitlines()
    assert last.startswith(f"CommandError: {len(lines)} difference(s)"), err
    assert "matches the models" in check()


def test_the_earlier_name_runs_the_same_check(fails):
    with connections["default"].cursor() as cursor:
        cursor.execute("ALTER FUNCTION prodpatterns_tenant_id() VOLATILE")
    try:
        status, err = fails("prodpatterns", "rls", "check")
        notice, _, report = err.partition("\n")
        assert notice.startswith("prodpatterns rls check is deprecated: it is prodpatterns check")
        assert (status, report) == fails("prodpatterns", "check")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("ALTER FUNCTION prodpatterns_tenant_id() STABLE")


def test_the_check_compares_the_expanded_function(fails):
    """The audit function's file is written with fragments: the yardstick is its expanded
    text, the body migration 0011 installed, so version 4's body (same behaviour, other
    text) is a difference and version 5's is none."""
    (audit,) = [f for f in expected_functions(connections["default"]) if f.file == AUDIT_FUNCTION]
    assert "{{" not in audit.body and "INSERT INTO" in audit.body
    assert "matches the models" in check()
    with connections["default"].cursor() as cursor:
        cursor.execute(in_schema(sql_file("audit_function_v4.sql"), cursor.db))
    try:
        status, err = fails("prodpatterns", "check")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute(in_schema(sql_file(AUDIT_FUNCTION), cursor.db))
    assert status == 1
    assert f"function prodpatterns_audit(): its body is not the one of {AUDIT_FUNCTION}" in err
    assert "matches the models" in check()


def test_a_clean_database_is_reported_with_what_was_compared():
    report = check()
    functions = len(expected_functions(connections["default"]))
    assert f"{functions} functions" in report
    written = sum(sql_file(name).count("CREATE OR REPLACE FUNCTION") for name in FUNCTION_FILES)
    assert functions == written


def test_the_yardstick_reads_every_function_of_its_files():
    """The file parser finds each CREATE FUNCTION with its attributes (the clean check above
    proves the bodies equal what PostgreSQL stores)."""
    found = {
        name: [f.name for f in defined_functions(sql_file(name), name, '"public"')]
        for name in FUNCTION_FILES
    }
    assert found["audit_guard_v2.sql"] == ["prodpatterns_audit_append_only()"]
    assert found["stage_function_v1.sql"] == ["prodpatterns_stage(regclass, text[])"]
    assert "prodpatterns_private.set_context(text)" in found["context_functions_v3.sql"]
    (audit,) = defined_functions(sql_file("audit_function_v4.sql"), "a", '"public"')
    assert audit.definer and audit.volatility == "v"
    assert sorted(audit.settings) == ["enable_nestloop=off", "search_path=pg_catalog, pg_temp"]


# --- the shapes users write: quoted, mixed-case and reserved names, natural and one-to-one
# keys (tests/zoo) -------------------------------------------------------------------------


def _definition(select: str, catalog: str, prefix: str, table: str, name: str) -> tuple:
    """What PostgreSQL says of one object of ``table`` (its catalog row's ``select``)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT {select} FROM {catalog}"
            f" WHERE {prefix}name = %s AND {prefix}relid = %s::regclass",
            [name, f'"{table}"'],
        )
        return cursor.fetchone()


def _policy(table: str, name: str) -> tuple[str, str]:
    expressions = "pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)"
    return _definition(expressions, "pg_policy", "pol", table, name)


def _trigger(table: str, name: str) -> str:
    return _definition("pg_get_triggerdef(oid)", "pg_trigger", "tg", table, name)[0]


def _constraint(table: str, name: str) -> str:
    return _definition("pg_get_constraintdef(oid)", "pg_constraint", "con", table, name)[0]


def policy_opened(table, name):
    using, check = _policy(table, name)
    return (
        f'ALTER POLICY {name} ON "{table}" USING (true)',
        f'ALTER POLICY {name} ON "{table}" USING ({using}) WITH CHECK ({check})',
    )


def trigger_dropped(table, name):
    return f'DROP TRIGGER {name} ON "{table}"', _trigger(table, name)


def trigger_disabled(table, name):
    return (
        f'ALTER TABLE "{table}" DISABLE TRIGGER {name}',
        f'ALTER TABLE "{table}" ENABLE TRIGGER {name}',
    )


def key_dropped(table, name):
    return (
        f'ALTER TABLE "{table}" DROP CONSTRAINT {name}',
        f'ALTER TABLE "{table}" ADD CONSTRAINT {name} {_constraint(table, name)}',
    )


def not_forced(table, name):
    return (
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
    )


@pytest.mark.parametrize(
    ("make", "table", "name", "reported"),
    [
        pytest.param(
            policy_opened,
            "ZooMixedCase",
            "menagerie_mixedcase_tenant_rls",
            "menagerie.MixedCase (ZooMixedCase): policy menagerie_mixedcase_tenant_rls USING"
            " (true)",
            id="mixed-case table: policy opened",
        ),
        pytest.param(
            not_forced,
            "ZooMixedCase",
            None,
            "menagerie.MixedCase (ZooMixedCase): row level security is not forced",
            id="mixed-case table: not forced",
        ),
        pytest.param(
            trigger_disabled,
            "select",
            "menagerie_select_audit_upd",
            "menagerie.Select (select): audit trigger menagerie_select_audit_upd is disabled",
            id="reserved-word table: trigger disabled",
        ),
        pytest.param(
            trigger_dropped,
            "menagerie_sku",
            "menagerie_sku_audit_del",
            "menagerie.Sku (menagerie_sku): audit trigger menagerie_sku_audit_del missing",
            id="natural key: trigger dropped",
        ),
        pytest.param(
            key_dropped,
            "menagerie_shelflabel",
            "menagerie_shelflabel_shelf_tenant_fk",
            "menagerie.ShelfLabel.shelf (menagerie_shelflabel): tenant key"
            " menagerie_shelflabel_shelf_tenant_fk missing",
            id="one-to-one primary key: tenant key dropped",
        ),
    ],
)
def test_the_check_reports_a_change_on_the_shapes_users_write(fails, make, table, name, reported):
    """Quoted and mixed-case names, a reserved word as table name, a natural key and a
    one-to-one primary key: each change is found and named, and undoing it (from the
    definition PostgreSQL had) makes the check clean again."""
    assert "matches the models" in check()
    change, undo = make(table, name)
    with connections["default"].cursor() as cursor:
        cursor.execute(change)
    try:
        status, err = fails("prodpatterns", "check")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute(undo)
    assert status == 1
    assert reported in err, err
    assert "matches the models" in check()


@pytest.mark.django_db(databases=["default", APP])
def test_the_check_through_the_application_role_fails_with_one_line(fails):
    """The application role may not make the temporary copies the comparison needs (nor
    should it read the catalog for an attacker): the check says so in one line and what to
    run instead, without a traceback."""
    status, err = fails("prodpatterns", "check", "--database", APP)
    assert status == 1
    (line,) = err.splitlines()
    assert line.startswith("CommandError: "), err
    assert "--database" in line and "owner" in line, line
