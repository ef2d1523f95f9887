"""Citus mode's own code on one PostgreSQL server (no cluster: tests/citus has those).

In Citus mode the channel, the bulk writers, saves and soft-delete cascades take the form
Citus needs (the context as a statement of its own, signed for any backend; VALUES lists;
the tenant in every statement). On one server that form must behave exactly as the plain
one: the same rows, the same isolation, every row still judged by the policy. The SQL the
layout constraints generate and what the workers receive are checked as text and run
where PostgreSQL alone can run them.
"""

import psycopg
import pytest
from django.db import DatabaseError, connection, connections, transaction
from psycopg import sql as pgsql

from django_prodpatterns.bulk import copy_insert, upsert
from django_prodpatterns.context import tenant_context
from django_prodpatterns.db import signing
from django_prodpatterns.db.citus import (
    CitusRowLevelSecurity,
    DistributedTable,
    ReferenceTable,
    is_citus,
    worker_statements,
)
from django_prodpatterns.devserver import citus as cluster
from tests.composed.models import Invoice, InvoiceLine
from tests.helpers import APP, CROSS, superuser_url

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, CROSS])


@pytest.fixture
def citus_mode(settings):
    """Citus mode for the test; connections sign anew under it (and again after)."""
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "CITUS": True}
    for alias in ("default", APP):
        signing.unbind(connections[alias])
    yield
    for alias in ("default", APP):
        signing.unbind(connections[alias])


def recorded(alias=APP):
    """A list the statements run on ``alias`` are appended to, and the wrapper that does."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    return statements, connections[alias].execute_wrapper(record)


def _value(alias=APP):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting('prodpatterns.context', true)")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic"])
def test_the_context_is_signed_for_any_backend_and_isolation_holds(
    citus_mode, invoice_tenants, atomic
):
    """Workers verify in sessions of their own: the value is the pooled layout ('q'),
    sent by SET LOCAL only (no set_context()), and the tenant sees its rows alone."""
    a, b = invoice_tenants
    with tenant_context(a):
        Invoice.objects.using(APP).create(number="A-1")
    with tenant_context(b):
        Invoice.objects.using(APP).create(number="B-1")
    for tenant, number in ((a, "A-1"), (b, "B-1")):
        statements, wrapper = recorded()
        with tenant_context(tenant), wrapper:
            if atomic:
                with transaction.atomic(using=APP):
                    value = _value()
                    numbers = list(Invoice.objects.using(APP).values_list("number", flat=True))
            else:
                value = _value()
                numbers = list(Invoice.objects.using(APP).values_list("number", flat=True))
        assert value[64] == signing.ANY_BACKEND
        assert numbers == [number]
        # The statements reach the database as they are: nothing shares their string.
        assert not [s for s in statements if "prodpatterns.context" in s and "Invoice" in s]
        assert not [s for s in statements if signing.SET_CONTEXT_FUNCTION in s]


def test_bulk_writes_send_values_lists_that_the_policy_judges(citus_mode, invoice_tenants):
    a, b = invoice_tenants
    statements, wrapper = recorded()
    rows = [{"number": f"N-{n}", "total": "1.00"} for n in range(2100)]
    with tenant_context(a), wrapper:
        assert copy_insert(Invoice, rows, using=APP) == 2100
        result = upsert(
            Invoice,
            [{"number": "N-1", "total": "9.00"}, {"number": "N-new", "total": "2.00"}],
            unique_fields=["number"],
            update_fields=["total"],
            using=APP,
        )
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) == 4 and all(" VALUES (" in s for s in inserts)
    assert not [s for s in statements if "prodpatterns_stage" in s]
    assert (result.inserted, result.updated) == (1, 1)
    with tenant_context(a):
        assert Invoice.objects.using(APP).count() == 2101
        assert str(Invoice.objects.using(APP).get(number="N-1").total) == "9.00"
    with tenant_context(b):
        assert Invoice.objects.using(APP).count() == 0
        # A VALUES list naming tenant A is judged by the policy as any insert is.
        table = Invoice._meta.db_table
        with (
            pytest.raises(DatabaseError, match="row-level security"),
            transaction.atomic(using=APP),
            connections[APP].cursor() as cursor,
        ):
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, number, note, total, version,"
                " created_at, updated_at) VALUES (%s, 'x', '', 0, 1, now(), now())",
                [a.pk],
            )


def test_a_save_names_its_tenant_and_never_writes_it(citus_mode, invoice_tenants):
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="S-1")
        statements, wrapper = recorded()
        with wrapper:
            invoice.note = "changed"
            invoice.save(using=APP)
        (update,) = [s for s in statements if s.startswith("UPDATE")]
        assert '"tenant_id" = ' not in update.split(" WHERE ")[0]
        assert '"tenant_id" = ' in update.split(" WHERE ")[1]
        assert Invoice.objects.using(APP).get(pk=invoice.pk).note == "changed"


def test_every_statement_of_a_cascade_and_a_restore_names_the_tenant(citus_mode, invoice_tenants):
    a, b = invoice_tenants
    with tenant_context(b):
        other = Invoice.objects.using(APP).create(number="B")
        InvoiceLine.objects.using(APP).create(invoice=other)
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="C-1")
        InvoiceLine.objects.using(APP).create(invoice=invoice)
        statements, wrapper = recorded()
        with wrapper:
            Invoice.objects.using(APP).filter(pk=invoice.pk).delete()
            assert InvoiceLine.deleted_objects.using(APP).count() == 1
            Invoice.deleted_objects.using(APP).filter(pk=invoice.pk).restore()
        assert InvoiceLine.objects.using(APP).count() == 1
    writes = [s for s in statements if s.startswith("UPDATE")]
    assert len(writes) == 4
    for sql in writes:
        # The outer statement and every subquery name the tenant.
        assert sql.count('"tenant_id" = ') >= sql.count("SELECT") + 1, sql
    with tenant_context(b):
        assert InvoiceLine.objects.using(APP).count() == 1


def test_what_the_workers_receive_verifies_the_applications_values(django_db_blocker):
    """worker_statements() installs the key store, the functions and the key on a node as
    they are on the coordinator; a value the application signs verifies there."""
    name = "pp_citus_worker_probe"
    with psycopg.connect(superuser_url(), autocommit=True) as admin:
        admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(name)))
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        inner, outer = signing.padded_keys(signing.context_key())
        key = (
            f"INSERT INTO {signing.KEY_TABLE} (id, inner_key, outer_key)"
            f" VALUES (1, '\\x{inner.hex()}'::bytea, '\\x{outer.hex()}'::bytea)"
        )
        command = worker_statements(connection, key)
        value = signing.sign_fresh(signing.payload("42", "7", "{}"), signing.Binding(pid=0))
        with psycopg.connect(superuser_url(), dbname=name) as node:
            node.execute(command)
            node.execute("SELECT set_config('prodpatterns.context', %s, true)", [value])
            assert node.execute("SELECT prodpatterns_tenant_id()").fetchone() == ("42",)
            forged = "0" * 64 + value[64:]
            node.execute("SELECT set_config('prodpatterns.context', %s, true)", [forged])
            assert node.execute("SELECT prodpatterns_tenant_id()").fetchone() == (None,)
    finally:
        with psycopg.connect(superuser_url(), autocommit=True) as admin:
            admin.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )


def test_a_server_without_citus_gets_no_worker_statements(citus_mode):
    assert is_citus(connections["default"]) is False
    signing.install_key("default")  # Citus mode, no extension: the coordinator's key only


def test_the_layout_sql_names_the_table_its_tenant_and_every_tenant_table():
    with connection.schema_editor(collect_sql=True) as editor:
        distributed = DistributedTable.current(name="composed_invoice_citus", field="tenant")
        sql = distributed.create_sql(Invoice, editor)
        reference = ReferenceTable.current(name="t_citus").create_sql(
            Invoice._meta.get_field("tenant").related_model, editor
        )
        removal = distributed.remove_sql(Invoice, editor)
        after = list(editor.deferred_sql)
        policy = CitusRowLevelSecurity.current(name="p", field="tenant")
        condition = policy.condition_sql(Invoice, editor)
    call = sql.splitlines()[-1]
    assert call.startswith("SELECT prodpatterns_private.distribute('\"composed_invoice\"',")
    assert "'tenant_id', 'id', 'composed_invoice_citus', '\"prodpatterns_tenant\"'" in call
    assert "'\"composed_invoiceline\"'" in call and "'\"testapp_project\"'" in call
    assert reference.endswith(
        "SELECT prodpatterns_private.make_reference('\"prodpatterns_tenant\"')"
    )
    assert removal.startswith("SELECT prodpatterns_private.undistribute(")
    assert after == ["SELECT prodpatterns_private.repair_sequences()"]
    assert condition == '"tenant_id" = prodpatterns_tenant_id()::bigint'


def test_a_table_created_with_its_layout_is_laid_out_before_the_foreign_keys():
    """Inside CREATE TABLE (a squashed migration folds the constraints in), the layout
    goes to the front of the deferred SQL: Citus refuses the foreign keys Django adds at
    the end until the tables they join are laid out."""
    with connection.schema_editor(collect_sql=True) as editor:
        editor.deferred_sql[:] = ["ALTER TABLE a ADD CONSTRAINT a_fk FOREIGN KEY ..."]
        DistributedTable.current(name="one", field="tenant").constraint_sql(Invoice, editor)
        DistributedTable.current(name="two", field="tenant").constraint_sql(InvoiceLine, editor)
        deferred = [str(statement) for statement in editor.deferred_sql]
        editor.deferred_sql.clear()
    calls = [
        i for i, s in enumerate(deferred) if s.startswith("SELECT prodpatterns_private.distribute(")
    ]
    tables = [deferred[i].split("'")[1] for i in calls]
    assert tables == ['"composed_invoice"', '"composed_invoiceline"']  # in creation order
    assert max(calls) < deferred.index("ALTER TABLE a ADD CONSTRAINT a_fk FOREIGN KEY ...")
    assert deferred[-1] == "SELECT prodpatterns_private.repair_sequences()"


def test_the_cluster_helper_finds_citus_where_it_is_installed(tmp_path):
    found = cluster.find_citus()
    assert found is None or (found.parent / "lib" / "citus.so").is_file()
    assert cluster.main(["stop", str(tmp_path)]) == 0  # no servers there: nothing to stop
    if found is None:
        assert cluster.main(["start", str(tmp_path / "c")]) == 1
