"""TenantModel behaviour, the DDL migrations give it, and the database's own guarantees.

Database-level tests run as the application role (``app``); ``cross_tenant`` is the
BYPASSRLS role of ``PRODPATTERNS["ADMIN_DATABASE"]``.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.test import override_settings

from django_prodpatterns.context import tenant_context
from django_prodpatterns.db.constraints import RowLevelSecurity, TenantForeignKey
from django_prodpatterns.exceptions import TenantMismatch, TenantRequired
from tests.helpers import APP
from tests.testapp.models import Label, Project, Task

pytestmark = pytest.mark.django_db(
    transaction=True, databases=["default", APP, "cross_tenant", "setup"]
)


def raw(sql, params=(), using=APP):
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.fixture
def projects(tenant_pair):
    made = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            made[tenant.pk] = Project.objects.using(APP).create(name=f"p{tenant.pk}", code="c")
    yield made
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Task._base_manager.using(APP).all().delete()
            Project._base_manager.using(APP).all().delete()


def test_tenant_is_filled_from_the_context(tenant_pair, projects):
    a, _ = tenant_pair
    assert projects[a.pk].tenant_id == a.pk


def test_no_tenant_no_queries_and_no_saves():
    with pytest.raises(TenantRequired, match=r"testapp\.Project"):
        Project.objects.using(APP).count()
    with pytest.raises(TenantRequired):
        Project(name="x", code="x").save(using=APP)


def test_a_rows_tenant_never_changes(tenant_pair, projects):
    a, b = tenant_pair
    with tenant_context(a):
        project = Project.objects.using(APP).get()
        project.tenant_id = b.pk
        with pytest.raises(TenantMismatch, match="cannot change"):
            project.save(using=APP)
        with pytest.raises(TenantMismatch):
            Project.objects.using(APP).update(tenant=b.pk)
    with tenant_context(b), pytest.raises(TenantMismatch, match="current tenant"):
        Project(name="x", code="y", tenant_id=a.pk).save(using=APP)


def test_raw_sql_without_a_tenant_sees_nothing_and_writes_nothing(tenant_pair, projects):
    a, _ = tenant_pair
    assert raw("SELECT count(*) FROM testapp_project") == [(0,)]
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(using=APP):
        raw(
            "INSERT INTO testapp_project (tenant_id, name, code) VALUES (%s, 'x', 'x')",
            [a.pk],
        )


def test_a_cross_tenant_foreign_key_is_rejected_by_the_database(tenant_pair, projects):
    a, b = tenant_pair
    with (
        tenant_context(a),
        pytest.raises(IntegrityError, match="tenant_fk"),
        transaction.atomic(using=APP),
    ):
        raw("SET CONSTRAINTS ALL IMMEDIATE")
        raw(
            "INSERT INTO testapp_task (tenant_id, project_id, title) VALUES (%s, %s, 't')",
            [a.pk, projects[b.pk].pk],
        )


def test_model_validation_rejects_another_tenants_row(tenant_pair, projects):
    a, b = tenant_pair
    with tenant_context(a):
        task = Task(project=projects[b.pk], title="t", tenant_id=a.pk)
        with pytest.raises(ValidationError) as excinfo:
            task.full_clean()
    assert "project" in excinfo.value.message_dict
    constraint = next(c for c in Task._meta.constraints if isinstance(c, TenantForeignKey))
    with pytest.raises(ValidationError):  # without RLS (e.g. SQLite) the constraint decides
        constraint.validate(Task, task, using="cross_tenant")
    task.project = projects[a.pk]
    constraint.validate(Task, task, using="cross_tenant")


def test_many_to_many_links_stay_inside_a_tenant(tenant_pair, projects):
    a, b = tenant_pair
    labels = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            labels[tenant.pk] = Label.objects.using(APP).create(name=f"l{tenant.pk}")
    try:
        with tenant_context(a):
            task = Task.objects.using(APP).create(project=projects[a.pk], title="t")
            task.labels.add(labels[a.pk])
            assert list(task.labels.all()) == [labels[a.pk]]
            with pytest.raises(DatabaseError), transaction.atomic(using=APP):
                raw(
                    "INSERT INTO testapp_task_labels (task_id, label_id) VALUES (%s, %s)",
                    [task.pk, labels[b.pk].pk],
                )
        with tenant_context(b):
            assert raw("SELECT count(*) FROM testapp_task_labels") == [(0,)]
        assert raw("SELECT count(*) FROM testapp_task_labels") == [(0,)]
        with tenant_context(a):
            assert raw("SELECT count(*) FROM testapp_task_labels") == [(1,)]
            task.labels.clear()
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Label._base_manager.using(APP).all().delete()


def test_cross_tenant_access_only_through_its_alias(tenant_pair, projects, cross_tenant_alias):
    assert Project.objects.cross_tenant().count() == 2
    assert Project.objects.cross_tenant().db == "cross_tenant"
    with override_settings(PRODPATTERNS={}), pytest.raises(ImproperlyConfigured):
        Project.objects.cross_tenant()
    # and the application role cannot switch policies off by any setting it can change
    with tenant_context(None):
        raw("SELECT set_config('prodpatterns.tenant_id', '', false)")
        raw("SET row_security = on")
        assert raw("SELECT count(*) FROM testapp_project") == [(0,)]


def test_tenant_scoped_lookup_uses_the_index(tenant_pair, projects):
    """The policy adds ``tenant_id = <setting>``; with (tenant, name) indexed, no seq scan."""
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Project.objects.using(APP).bulk_create(
                Project(name=f"n{i}", code=f"k{i}") for i in range(3000)
            )
    raw("ANALYZE testapp_project", using="setup")
    a, _ = tenant_pair
    with tenant_context(a):
        plans = [
            # raw SQL: the policy alone supplies the tenant condition
            "\n".join(
                line
                for (line,) in raw("EXPLAIN SELECT * FROM testapp_project WHERE name = %s", ["n7"])
            ),
            Project.objects.using(APP).filter(name="n7").explain(),
        ]
    for plan in plans:
        assert "Index Scan" in plan or "Index Only Scan" in plan, plan
        assert "Seq Scan" not in plan, plan


def test_every_tenant_model_carries_its_generated_ddl():
    for model in (Project, Label, Task):
        kinds = {type(c) for c in model._meta.constraints}
        assert RowLevelSecurity in kinds
    assert TenantForeignKey in {type(c) for c in Task._meta.constraints}
