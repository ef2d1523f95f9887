"""The leak kit's refused writes: refused by isolation, or the test fails.

Each cross-tenant write the kit tries runs in ``_must_fail``. It passes only when row level
security, a (tenant, key) foreign key or the ORM's ``TenantMismatch`` stopped the write;
a write that succeeds is a leak, and a write that failed for any other reason proved
nothing, so both fail the test, naming the write and (for the second) the error.
"""

import re

import pytest
from django.db import DatabaseError, connections, transaction

from django_prodpatterns.context import tenant_context
from django_prodpatterns.testing import assert_tenant_isolation, leaks
from django_prodpatterns.testing.leaks import _must_fail
from tests.helpers import APP, delete_in_each_tenant
from tests.testapp.models import Label, Project, Task

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


def raw(sql, params=()):
    with connections[APP].cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def rows(tenant_pair):
    """Tenants A and B, each with a project, a task and a label; {tenant: (project, task,
    label)} and the pair. Everything the tests add under either tenant goes afterwards."""
    made = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            project = Project.objects.using(APP).create(name="p", code="kit")
            task = Task.objects.using(APP).create(project=project, title="t")
            made[tenant] = (project, task, Label.objects.using(APP).create(name="l"))
    yield tenant_pair, made
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Task.labels.through.objects.using(APP).all().delete()
    delete_in_each_tenant(tenant_pair, Task, Label, Project)


def labels_of(tenant):
    with tenant_context(tenant):
        return sorted(Label.objects.using(APP).values_list("name", flat=True))


# --- what proves isolation passes ----------------------------------------------------------


def insert_label_into_b(a, b, made):
    raw("INSERT INTO testapp_label (tenant_id, name) VALUES (%s, 'intruder')", [b.pk])


def save_label_into_b(a, b, made):
    Label(name="intruder", tenant_id=b.pk).save(using=APP)


def reference_bs_project_with_raw_sql(a, b, made):
    raw(
        "INSERT INTO testapp_task (tenant_id, project_id, title) VALUES (%s, %s, 'intruder')",
        [a.pk, made[b][0].pk],
    )


def reference_bs_project_through_the_orm(a, b, made):
    Task(project=made[b][0], title="intruder").save(using=APP)


def link_bs_label_through_the_orm(a, b, made):
    made[a][1].labels.add(made[b][2])


REFUSALS = [
    pytest.param(insert_label_into_b, "row-level security", id="rls-raw-insert"),
    pytest.param(save_label_into_b, "TenantMismatch", id="tenant-mismatch-orm-save"),
    pytest.param(reference_bs_project_with_raw_sql, "foreign key", id="fk-raw-reference"),
    pytest.param(reference_bs_project_through_the_orm, "foreign key", id="fk-orm-reference"),
    pytest.param(link_bs_label_through_the_orm, "row-level security", id="rls-orm-link"),
]


@pytest.mark.parametrize(("write", "refused_by"), REFUSALS)
def test_a_write_refused_by_isolation_passes(rows, write, refused_by):
    (a, b), made = rows
    before = labels_of(b)
    with tenant_context(a), _must_fail(f"a write refused by {refused_by}", APP):
        write(a, b, made)
    assert labels_of(b) == before
    with tenant_context(a):
        assert not Task.objects.using(APP).filter(title="intruder").exists()
        assert list(made[a][1].labels.all()) == []


# --- anything else fails, naming the write and the error -----------------------------------


def sql_syntax_error(a):
    raw("INSERT INTO testapp_label (tenant_id, name) VALUES (")


def undefined_column(a):
    raw("INSERT INTO testapp_label (tenant_id, no_such_column) VALUES (%s, 'x')", [a.pk])


def not_null_violation(a):
    """A NOT NULL violation in the current tenant: row level security let the row through."""
    raw("INSERT INTO testapp_label (tenant_id, name) VALUES (%s, NULL)", [a.pk])


def missing_privilege(a):
    """SQLSTATE 42501 too, but a privilege the role lacks, not row level security."""
    raw("CREATE SCHEMA leak_kit_probe")


def type_error(a):
    Label(name="l", no_such_field=1).save(using=APP)


def tenant_required(a):
    """One of the app's own errors, but not one that refuses a cross-tenant write (the kit
    used to accept every ProdPatternsError)."""
    with tenant_context(None):
        Label.objects.using(APP).count()


UNRELATED = [
    pytest.param(
        sql_syntax_error,
        r"django\.db\.utils\.ProgrammingError \(psycopg\.errors\.SyntaxError, "
        r"SQLSTATE 42601\): syntax error",
        id="syntax-error",
    ),
    pytest.param(
        undefined_column,
        r"django\.db\.utils\.ProgrammingError \(psycopg\.errors\.UndefinedColumn, "
        r"SQLSTATE 42703\): column \"no_such_column\" of relation \"testapp_label\" does not "
        r"exist",
        id="undefined-column",
    ),
    pytest.param(
        not_null_violation,
        r"django\.db\.utils\.IntegrityError \(psycopg\.errors\.NotNullViolation, "
        r"SQLSTATE 23502\): null value in column \"name\"",
        id="not-null",
    ),
    pytest.param(
        missing_privilege,
        r"django\.db\.utils\.ProgrammingError \(psycopg\.errors\.InsufficientPrivilege, "
        r"SQLSTATE 42501\): permission denied for database",
        id="42501-without-rls",
    ),
    pytest.param(
        type_error,
        r"builtins\.TypeError: Label\(\) got unexpected keyword arguments: 'no_such_field'",
        id="type-error",
    ),
    pytest.param(
        tenant_required,
        r"django_prodpatterns\.exceptions\.TenantRequired: testapp\.Label is tenant-scoped",
        id="tenant-required",
    ),
]


@pytest.mark.parametrize(("write", "error"), UNRELATED)
def test_a_write_failing_for_another_reason_fails_naming_it(rows, write, error):
    (a, _), _ = rows
    with (
        pytest.raises(AssertionError) as failure,
        tenant_context(a),
        _must_fail("the write under test", APP),
    ):
        write(a)
    message = str(failure.value)
    prefix = "leak test inconclusive: the write under test failed with "
    assert message.startswith(prefix), message
    assert re.match(error, message.removeprefix(prefix)), message
    assert "only a row-level security violation (SQLSTATE 42501)" in message
    assert not message.startswith("tenant leak")
    assert failure.value.__cause__ is not None  # the error itself, with its traceback
    with tenant_context(a):  # the savepoint was rolled back: the connection still works
        assert Label.objects.using(APP).count() == 1


@pytest.mark.parametrize(
    ("write", "proves"),
    [
        pytest.param(insert_label_into_b, True, id="rls"),
        pytest.param(lambda a, b, made: missing_privilege(a), False, id="missing-privilege"),
    ],
)
def test_rls_is_told_from_a_missing_privilege_by_the_raising_function(rows, write, proves):
    """Both are SQLSTATE 42501. The server function that raised the error tells them apart
    (row level security's check is ``ExecWithCheckOptions``), which a server whose messages
    are in another language reports just the same: the English message is not needed."""
    (a, b), made = rows
    with pytest.raises(DatabaseError) as caught, tenant_context(a), transaction.atomic(using=APP):
        write(a, b, made)
    assert leaks._sqlstate(caught.value) == "42501"
    assert (leaks._source_function(caught.value) == "ExecWithCheckOptions") is proves
    assert leaks._proves_isolation(caught.value) is proves


def test_a_write_that_succeeds_is_still_a_leak(rows):
    (a, _), _ = rows
    with (
        pytest.raises(AssertionError, match=r"^tenant leak: writing into A succeeded$"),
        tenant_context(a),
        _must_fail("writing into A", APP),
    ):
        raw("INSERT INTO testapp_label (tenant_id, name) VALUES (%s, 'mine')", [a.pk])
    assert labels_of(a) == ["l", "mine"]


def test_the_kit_fails_on_a_broken_write_instead_of_passing(tenant_pair, monkeypatch):
    """Through the public kit: a raw insert that cannot run at all (here a column that does
    not exist) used to count as refused by row level security."""
    insert_sql = leaks._insert_sql

    def broken(obj, using):
        sql, params = insert_sql(obj, using)
        return sql.replace('"name"', '"no_such_column"'), params

    monkeypatch.setattr(leaks, "_insert_sql", broken)
    with pytest.raises(
        AssertionError,
        match=r"^leak test inconclusive: inserting a row into tenant B with raw SQL failed "
        r"with django\.db\.utils\.ProgrammingError \(psycopg\.errors\.UndefinedColumn, "
        r"SQLSTATE 42703\)",
    ):
        assert_tenant_isolation(
            Label, lambda tenant: Label(name="l"), tenants=tenant_pair, using=APP
        )
    for tenant in tenant_pair:  # the kit removed its rows on the way out
        assert labels_of(tenant) == []


def test_soft_deleted_rows_of_the_current_tenant_are_no_leak(tenant_pair):
    """The base manager and raw SQL see the current tenant's soft-deleted rows, which
    ``objects`` hides: they are the tenant's own, and the kit counts them as such."""
    from tests.zoo.models import Badge

    a, _ = tenant_pair
    with tenant_context(a):
        dead = Badge.objects.using(APP).create(name="gone")
        Badge.objects.using(APP).filter(pk=dead.pk).delete()
        assert Badge.deleted_objects.using(APP).count() == 1
    try:
        assert_tenant_isolation(
            Badge, lambda tenant: Badge(name="x"), tenants=tenant_pair, using=APP
        )
    finally:
        delete_in_each_tenant(tenant_pair, Badge)
