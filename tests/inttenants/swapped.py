"""A tenant model keyed by a 32-bit integer passes every check of tests/swapped_tenant_kit.py.

Run by tests/test_swapped_tenants.py in a child pytest with tests/settings_inttenant.py (the
file name keeps the main run from collecting it).
"""

import pytest

# The kit's asserts explain their failures like a test module's (before it is imported).
pytest.register_assert_rewrite("tests.swapped_tenant_kit")

from tests import swapped_tenant_kit as kit  # noqa: E402
from tests.inttenants.models import Company, Label, Project, Task  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True, databases=kit.DATABASES)

SHAPE = kit.Shape(
    tenant_model=Company,
    tenant_key_type="integer",
    parent=Project,
    child=Task,
    target=Label,
    link="labels",
    new_parent=lambda text: Project(name=text),
    new_child=lambda project, text: Task(project=project, title=text),
    new_target=lambda text: Label(name=text),
    text_field="name",
)


@pytest.fixture
def tenants(tenant_pair):
    yield tenant_pair
    SHAPE.cleanup(tenant_pair)


def test_the_tenant_model_is_swapped_and_integer_keyed(tenants):
    assert all(type(tenant.pk) is int for tenant in tenants)
    kit.check_the_tenant_model_is_swapped(SHAPE, tenants)


def test_projects_are_isolated_and_tasks_cannot_reference_another_tenants(tenants):
    kit.check_parent_isolation(SHAPE, tenants)


def test_tasks_are_isolated(tenants):
    kit.check_child_isolation(SHAPE, tenants)


def test_project_labels_links_are_isolated(tenants):
    kit.check_link_isolation(SHAPE, tenants)


def test_a_soft_delete_cascades_and_its_restore_is_exact(tenants):
    kit.check_soft_delete_and_restore(SHAPE, tenants)


def test_creates_and_updates_are_audited_under_the_tenant(tenants, django_user_model):
    kit.check_audit(SHAPE, tenants, django_user_model.objects.create_user("clerk"))


def test_a_stale_save_raises_conflict(tenants):
    kit.check_stale_save_conflicts(SHAPE, tenants)
