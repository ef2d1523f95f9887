"""Tenant isolation, proved with the leak-test kit on every tenant model of the test app.

Everything runs through the ``app`` alias: the application role, neither superuser nor
owner, so row level security really applies.
"""

import pytest
from django.conf import settings

from django_prodpatterns.context import tenant_context
from django_prodpatterns.testing import assert_tenant_isolation
from tests.testapp.models import Label, Project, Task

APP = "app"
BOUNCER = ["bouncer"] if "bouncer" in settings.DATABASES else []
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, *BOUNCER])


def new_project(tenant):
    return Project(name="p", code=f"c{Project._base_manager.using(APP).count()}")


def test_projects_are_isolated(tenant_pair):
    assert_tenant_isolation(
        Project,
        new_project,
        tenants=tenant_pair,
        using=APP,
        reference=lambda project: Task(project=project, title="t"),
    )


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
