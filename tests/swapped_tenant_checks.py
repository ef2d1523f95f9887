"""Every check of tests/swapped_tenant_kit.py, for the project-owned tenant model in force.

Run by tests/test_swapped_tenants.py in a child pytest per settings module
(tests/settings_inttenant.py, tests/settings_chartenant.py); the app of the swapped tenant
model supplies its ``shape`` module. The file name keeps the main run from collecting it.
"""

from importlib import import_module

import pytest

# The kit's asserts explain their failures like a test module's (before it is imported).
pytest.register_assert_rewrite("tests.swapped_tenant_kit")

from django_prodpatterns.models import get_tenant_model  # noqa: E402
from tests import swapped_tenant_kit as kit  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True, databases=kit.DATABASES)


@pytest.fixture(scope="module")
def shape():
    return import_module(f"{get_tenant_model()._meta.app_config.name}.shape").SHAPE


@pytest.fixture
def shape_tenants(tenant_pair, shape):
    """Two tenants of the swapped tenant model; the shape's rows go before they do."""
    yield tenant_pair
    shape.cleanup(tenant_pair)


def test_the_tenant_model_is_swapped_and_keyed_as_declared(shape, shape_tenants):
    assert all(type(tenant.pk) is shape.python_key_type for tenant in shape_tenants)
    kit.check_the_tenant_model_is_swapped(shape, shape_tenants)


def test_parents_are_isolated_and_children_cannot_reference_another_tenants(shape, shape_tenants):
    kit.check_parent_isolation(shape, shape_tenants)


def test_children_are_isolated(shape, shape_tenants):
    kit.check_child_isolation(shape, shape_tenants)


def test_links_are_isolated(shape, shape_tenants):
    kit.check_link_isolation(shape, shape_tenants)


def test_a_soft_delete_cascades_and_its_restore_is_exact(shape, shape_tenants):
    kit.check_soft_delete_and_restore(shape, shape_tenants)


def test_creates_and_updates_are_audited_under_the_tenant(shape, shape_tenants, django_user_model):
    kit.check_audit(shape, shape_tenants, django_user_model.objects.create_user("clerk"))


def test_a_stale_save_raises_conflict(shape, shape_tenants):
    kit.check_stale_save_conflicts(shape, shape_tenants)
