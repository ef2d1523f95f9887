"""prodpatterns.E023: ``TENANT_USER_ATTRIBUTE`` must lead from the user model to the tenant.

The default resolvers read ``request.user.<TENANT_USER_ATTRIBUTE>``; a path that does not
exist on ``AUTH_USER_MODEL`` (a typo, a relation the project does not have) means that no
request ever finds a tenant, which ``manage.py check`` says before the first request does.
"""

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_prodpatterns.checks.tenancy import check_tenant_user_attribute, tenant_path_problem
from django_prodpatterns.models import Tenant
from tests.testapp.models import Member

E023 = "prodpatterns.E023"
CUSTOM_RESOLVER = "tests.test_tenant_user_attribute_check.resolve_nothing"


def resolve_nothing(request):
    """A project's own resolver, which reads no user attribute."""
    return None


def e023(**prodpatterns):
    with override_settings(PRODPATTERNS=prodpatterns):
        return [m for m in check_tenant_user_attribute() if m.id == E023]


def test_the_test_settings_path_resolves():
    """tests/settings.py: Member is a reverse one-to-one of User, with a tenant."""
    assert e023(TENANT_USER_ATTRIBUTE="member.tenant") == []
    assert len(e023(TENANT_USER_ATTRIBUTE="member.tenant_id")) == 1  # a key is no tenant


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("membr.tenant", "auth.User has no field, relation or attribute 'membr'"),
        ("member.tenantt", "testapp.Member has no field, relation or attribute 'tenantt'"),
        ("member", "it ends at testapp.Member (auth.User.member), not at the tenant model"),
        ("username.tenant", "auth.User.username is a CharField, not a relation"),
        ("member.tenant.name", "it goes on past the tenant model (prodpatterns.Tenant.name)"),
    ],
)
def test_a_path_that_does_not_lead_to_the_tenant_is_an_error(path, fragment):
    (message,) = e023(TENANT_USER_ATTRIBUTE=path)
    assert isinstance(message, Error)
    assert f"PRODPATTERNS['TENANT_USER_ATTRIBUTE'] is {path!r}" in message.msg
    assert fragment in message.msg
    assert "django_prodpatterns.resolvers.from_user" in message.msg
    assert "'member.tenant'" in message.hint  # the path that does lead there


def test_the_default_attribute_on_djangos_user_is_an_error_with_the_default_resolver():
    """A project that configures nothing: auth.User has no ``tenant``."""
    (message,) = e023()
    assert "PRODPATTERNS['TENANT_USER_ATTRIBUTE'] is 'tenant'" in message.msg
    assert "'member.tenant'" in message.hint


def test_the_default_attribute_is_not_checked_for_a_resolver_of_the_projects_own():
    assert e023(TENANT_RESOLVER=CUSTOM_RESOLVER) == []
    builtin = "django_prodpatterns.resolvers.from_header"  # reads it: checked
    assert len(e023(TENANT_RESOLVER=builtin)) == 1


def test_an_attribute_the_project_sets_is_checked_whatever_the_resolver():
    """Set explicitly, it is read by user_tenants(), which a custom resolver may call."""
    assert len(e023(TENANT_RESOLVER=CUSTOM_RESOLVER, TENANT_USER_ATTRIBUTE="membr.tenant")) == 1


@pytest.mark.django_db
def test_it_fires_on_manage_py_check():
    with (
        override_settings(
            PRODPATTERNS={"TENANT_USER_ATTRIBUTE": "profile.tenant"},
            SILENCED_SYSTEM_CHECKS=[],  # tests/settings_bare.py silences it
        ),
        pytest.raises(SystemCheckError, match=r"prodpatterns\.E023"),
    ):
        call_command("check")


@override_settings(AUTH_USER_MODEL="testapp.Member")
def test_a_custom_user_model_with_a_forward_foreign_key():
    """Member stands in for a custom user model with ``tenant = ForeignKey(Tenant)``."""
    assert e023() == []
    assert e023(TENANT_USER_ATTRIBUTE="tenant") == []
    # A dotted path through several relations: forward one-to-one, reverse one-to-one, FK.
    assert e023(TENANT_USER_ATTRIBUTE="user.member.tenant") == []
    (message,) = e023(TENANT_USER_ATTRIBUTE="user.tenant")
    assert "auth.User has no field, relation or attribute 'tenant'" in message.msg


def test_paths_and_their_problems():
    assert tenant_path_problem(Member, "tenant", Tenant) is None
    assert tenant_path_problem(Member, "user.member.user.member.tenant", Tenant) is None
    assert "not at the tenant model" in tenant_path_problem(Member, "user", Tenant)
    # A to-many relation may only be the last step, where user_tenants() reads its rows.
    assert tenant_path_problem(Tenant, "members", Member) is None
    assert "leads to many" in tenant_path_problem(Tenant, "members.tenant", Tenant)


def test_the_plural_form_of_the_attribute_counts():
    """user_tenants() falls back to ``<attribute>s`` for a relation of several tenants."""
    from django_prodpatterns.checks.tenancy import user_attribute_problem

    assert user_attribute_problem(Tenant, "member", Member) is None  # Tenant.members
    assert user_attribute_problem(Tenant, "owner", Member) is not None


def test_an_attribute_defined_in_python_is_trusted_but_a_method_is_not():
    """A property (or another descriptor) cannot be followed, so the check trusts it; a
    method is never a tenant: the resolver reads attributes, it calls nothing."""
    from django.contrib.auth.models import User

    assert tenant_path_problem(User, "is_authenticated", Tenant) is None  # a property
    assert tenant_path_problem(User, "is_authenticated.anything", Tenant) is None
    problem = tenant_path_problem(User, "get_username", Tenant)
    assert "auth.User.get_username is a method" in problem
