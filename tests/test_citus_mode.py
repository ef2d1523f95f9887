"""Citus mode's own code on one PostgreSQL server (no cluster: tests/citus has those).

In Citus mode saves and soft-delete cascades name the tenant in every statement, whatever
the database; the channel and the bulk writers take Citus's form on a Citus database only.
On one server the result must be exactly the plain one: the same rows, the same
isolation. The SQL the layout constraints generate and what the workers receive are
checked as text and run where PostgreSQL alone can run them.
"""

import psycopg
import pytest
from django.db import connection, connections, models
from django.db.models import Count
from django.test.utils import isolate_apps
from psycopg import sql as pgsql

from django_prodpatterns import deletion
from django_prodpatterns.bulk import copy_insert
from django_prodpatterns.context import tenant_context
from django_prodpatterns.db import signing
from django_prodpatterns.db.citus import (
    CitusRowLevelSecurity,
    CitusTenantForeignKey,
    DistributedTable,
    ReferenceTable,
    group_by_whole_rows,
    is_citus,
    join_within_tenant,
    worker_statements,
)
from django_prodpatterns.db.constraints import TenantForeignKey
from django_prodpatterns.devserver import citus as cluster
from django_prodpatterns.exceptions import ConflictError
from django_prodpatterns.models import Tenant, TenantModel
from django_prodpatterns.querysets import rows_of
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


def test_a_database_without_citus_keeps_the_plain_channel(citus_mode, invoice_tenants):
    """Citus mode changes the channel on a Citus database only: another alias of the
    project (here a server without the extension) keeps values bound to its session,
    verified once and remembered, sent with the statement; bulk writes stage by COPY."""
    a, b = invoice_tenants
    statements, wrapper = recorded()
    with tenant_context(a), wrapper:
        value = _value()
        assert copy_insert(Invoice, [{"number": "P-1"}], using=APP) == 1
        numbers = list(Invoice.objects.using(APP).values_list("number", flat=True))
    assert value[64] == signing.FRESH
    assert signing.binding_of(connections[APP]).citus is False
    assert numbers == ["P-1"]
    assert [s for s in statements if "prodpatterns_stage" in s]
    with tenant_context(b):
        assert Invoice.objects.using(APP).count() == 0


def test_a_save_names_its_tenant_and_never_writes_it(citus_mode, invoice_tenants):
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="S-1")
        statements, wrapper = recorded()
        with wrapper:
            invoice.note = "changed"
            invoice.save(using=APP)
        (update,) = [s[s.index("UPDATE") :] for s in statements if "UPDATE " in s]
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
    writes = [s[s.index("UPDATE") :] for s in statements if "UPDATE " in s]
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
        key = signing.key_statement(*signing.padded_keys(signing.context_key()))
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


def test_a_cascade_without_a_tenant_runs_once_per_tenant_in_citus_mode(citus_mode, invoice_tenants):
    """Citus plans a cascade's joins within one tenant only, so Citus mode runs a delete,
    a restore and a purge without a tenant once per tenant of the rows (the same code on
    one server), every statement naming its tenant."""
    a, b = invoice_tenants
    made = []
    for tenant in (a, b):
        with tenant_context(tenant):
            invoice = Invoice.objects.using(APP).create(number="X-1")
            InvoiceLine.objects.using(APP).create(invoice=invoice)
            made.append(invoice.pk)
    rows = Invoice._base_manager.using(CROSS).filter(pk__in=made)  # both tenants'
    statements, wrapper = recorded(CROSS)
    with wrapper:
        assert deletion.soft_delete(rows) == (4, {"composed.Invoice": 2, "composed.InvoiceLine": 2})
        assert deletion.restore(rows)[0] == 4
        deletion.soft_delete(rows)
        assert deletion.purge(rows) == 2
    writes = [s[s.index("UPDATE") :] for s in statements if "UPDATE " in s]
    assert len(writes) == 12  # two tables, two tenants, three runs
    assert all('"tenant_id" = ' in sql.split(" WHERE ")[1] for sql in writes)
    for tenant in (a, b):
        with tenant_context(tenant):
            assert Invoice.all_objects.using(APP).count() == 0
            assert InvoiceLine.all_objects.using(APP).count() == 0


def test_a_join_between_tenant_models_matches_their_tenants(invoice_tenants):
    """What makemigrations-time Citus mode sets on a reference between tenant models: its
    joins (outer ones included, and an exclude() pushed into a subquery) match the tenant
    of both sides. Run here on one server: the same rows as without."""
    a, _ = invoice_tenants
    field = InvoiceLine._meta.get_field("invoice")
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="J-1")
        InvoiceLine.objects.using(APP).create(invoice=invoice, amount=2)
        Invoice.objects.using(APP).create(number="J-2")
        queries = {
            "select_related": lambda: InvoiceLine.objects.using(APP).select_related("invoice"),
            "count": lambda: Invoice.objects.using(APP).annotate(n=Count("lines")).order_by("pk"),
            "exclude": lambda: Invoice.objects.using(APP).exclude(lines__amount=2),
        }
        before = {name: [repr(row) for row in make()] for name, make in queries.items()}
        join_within_tenant(field)
        try:
            sql = {name: str(make().query) for name, make in queries.items()}
            after = {name: [repr(row) for row in make()] for name, make in queries.items()}
        finally:
            del field.get_extra_restriction
    line, invoice_table = InvoiceLine._meta.db_table, Invoice._meta.db_table
    pair = f'"{invoice_table}"."tenant_id" = ("{line}"."tenant_id")'
    assert pair in sql["select_related"] and pair in sql["count"]
    assert "LEFT OUTER JOIN" in sql["count"]
    assert f'U1."tenant_id" = {a.pk}' in sql["exclude"]  # the subquery's table
    assert after == before and len(before["count"]) == 2 and before["exclude"]


def test_a_citus_connection_groups_tenant_rows_by_all_their_columns(invoice_tenants):
    """The database's primary key of a distributed table is (tenant, id): GROUP BY lists a
    tenant model's columns; other models keep Django's short form."""
    a, _ = invoice_tenants
    citus_connection = connections.create_connection(APP)
    try:
        group_by_whole_rows(citus_connection)
        group_by_whole_rows(citus_connection)  # once is enough, twice is harmless
        with tenant_context(a):
            query = Invoice.objects.using(APP).annotate(n=Count("lines")).query
            short = query.get_compiler(connection=connections[APP]).as_sql()[0]
            whole = query.get_compiler(connection=citus_connection).as_sql()[0]
        shared = Tenant.objects.annotate(n=Count("pk")).query
        shared_sql = shared.get_compiler(connection=citus_connection).as_sql()[0]
    finally:
        citus_connection.close()
    table = Invoice._meta.db_table
    assert short.split("GROUP BY")[1].strip() == f'"{table}"."id"'
    grouped = whole.split("GROUP BY")[1]
    assert f'"{table}"."note"' in grouped and f'"{table}"."tenant_id"' in grouped
    assert shared_sql.split("GROUP BY")[1].strip() == '"prodpatterns_tenant"."id"'


def test_the_rows_a_version_check_holds_are_named_by_their_tenant(citus_mode, invoice_tenants):
    """Citus runs SELECT ... FOR UPDATE on a distributed table only with the tenant named:
    the version checks name it in Citus mode; stale writes are still refused."""
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="V-1")
        assert '"tenant_id" IN' in str(rows_of(Invoice, APP, [invoice.pk], [a.pk]).query)
        assert "tenant_id" not in str(rows_of(Tenant, APP, [a.pk], [a.pk]).query)
        stale = Invoice.objects.using(APP).get(pk=invoice.pk)
        invoice.note = "first"
        invoice.save(using=APP)
        statements, wrapper = recorded()
        with wrapper, pytest.raises(ConflictError):
            stale.delete(using=APP)
        (held,) = [s for s in statements if "FOR UPDATE" in s]
        assert '"tenant_id" IN' in held
        with pytest.raises(ConflictError):
            Invoice.objects.using(APP).bulk_update([stale], ["note"])


@isolate_apps("tests.testapp")
def test_a_reference_between_tenant_models_is_checked_at_once_in_citus_mode(settings):
    """Citus checks a deferred key at commit on the worker, where a reference to another
    tenant's row ends in "could not commit transaction": in Citus mode the composite key
    is immediate, Django's single-column one is not made, and joins carry the tenant."""
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "CITUS": True}

    class Shelf(TenantModel):
        class Meta:
            app_label = "testapp"

    class Book(TenantModel):
        shelf = models.ForeignKey(Shelf, models.CASCADE)

        class Meta:
            app_label = "testapp"

    (key,) = [c for c in Book._meta.constraints if isinstance(c, TenantForeignKey)]
    assert type(key) is CitusTenantForeignKey
    field = Book._meta.get_field("shelf")
    assert field.db_constraint is False and "get_extra_restriction" in field.__dict__
    with connection.schema_editor(collect_sql=True) as editor:
        sql = key.create_sql(Book, editor)
    assert sql.endswith("NOT DEFERRABLE") and "DEFERRED" not in sql
