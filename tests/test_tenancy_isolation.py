"""Tenant isolation, proved with the leak-test kit on every tenant model of the test app.

Everything runs through the ``app`` alias: the application role, neither superuser nor
owner, so row level security really applies.
"""

import pytest

from django_prodpatterns.context import tenant_context
from django_prodpatterns.testing import assert_link_isolation, assert_tenant_isolation
from tests.helpers import APP, BOUNCER
from tests.testapp.models import Label, Project, Task

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, *BOUNCER])


def new_project(tenant):
    return Project(name="p", code=f"c{Project._base_manager.using(APP).count()}")


def test_labels_are_isolated(tenant_pair):
    assert_tenant_isolation(Label, lambda tenant: Label(name="l"), tenants=tenant_pair, using=APP)


@pytest.mark.parametrize("using", [APP, *BOUNCER])
def test_projects_are_isolated_through_every_path(tenant_pair, using):
    """Through PgBouncer (transaction pooling) too, when it is installed."""
    assert_tenant_isolation(
        Project,
        new_project,
        tenants=tenant_pair,
        using=using,
        reference=lambda project: Task(project=project, title="t"),
    )


def test_tasks_are_isolated(tenant_pair):
    projects = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            projects[tenant.pk] = Project.objects.using(APP).create(name="p", code="x")

    def new_task(tenant):
        return Task(project=projects[tenant.pk], title="t")

    try:
        assert_tenant_isolation(Task, new_task, tenants=tenant_pair, using=APP)
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Project._base_manager.using(APP).filter(pk=projects[tenant.pk].pk).delete()


@pytest.mark.parametrize("using", [APP, *BOUNCER])
def test_task_labels_links_are_isolated(tenant_pair, using):
    def make_pair(tenant):
        project = Project.objects.using(using).create(name="p", code="links")
        task = Task.objects.using(using).create(project=project, title="t")
        return task, Label.objects.using(using).create(name="l")

    try:
        assert_link_isolation(Task, "labels", make_pair, tenants=tenant_pair, using=using)
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Project._base_manager.using(using).filter(code="links").delete()


@pytest.mark.django_db(transaction=True, databases=["default", APP, "setup"])
@pytest.mark.parametrize("table", ["testapp_label", "testapp_task_labels"])
def test_the_kit_catches_a_table_without_row_level_security(tenant_pair, table):
    """The kit must be able to fail: switch one policy off and it reports a leak."""
    from django.db import connections

    def make_pair(tenant):
        project = Project.objects.using(APP).create(name="p", code="kit")
        task = Task.objects.using(APP).create(project=project, title="t")
        return task, Label.objects.using(APP).create(name="l")

    with connections["setup"].cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    try:
        with pytest.raises(AssertionError, match="tenant leak"):
            if table == "testapp_label":
                assert_tenant_isolation(
                    Label, lambda tenant: Label(name="l"), tenants=tenant_pair, using=APP
                )
            else:
                assert_link_isolation(Task, "labels", make_pair, tenants=tenant_pair, using=APP)
    finally:
        with connections["setup"].cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Task.labels.through.objects.using(APP).all().delete()
                Label._base_manager.using(APP).all().delete()
                Project._base_manager.using(APP).filter(code="kit").delete()
