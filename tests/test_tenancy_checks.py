"""System checks for tenancy: FORCE, generated DDL, tenant-wide uniqueness, middleware."""

import pytest
from django.core.checks import run_checks
from django.db import connections, models
from django.test import override_settings
from django.test.utils import isolate_apps

from django_prodpatterns import checks
from django_prodpatterns.checks.tenancy import check_references_into_tenants
from django_prodpatterns.db.constraints import TenantForeignKey
from django_prodpatterns.models import TenantModel
from tests.settings_base import MIDDLEWARE

TENANT = "django_prodpatterns.middleware.TenantMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def ids(messages, prefix="prodpatterns.E02"):
    """What ``manage.py check`` would show: not what the settings silence
    (tests/settings_bare.py silences prodpatterns.E023, about Django's User)."""
    return sorted(m.id for m in messages if m.id.startswith(prefix) and not m.is_silenced())


@pytest.mark.django_db(transaction=True, databases=["default", "setup"])
def test_a_table_the_role_owns_without_force_is_an_error():
    assert ids(run_checks(databases=["default"])) == []  # the owner, with FORCE: fine
    with connections["setup"].cursor() as cursor:
        cursor.execute("ALTER TABLE testapp_label NO FORCE ROW LEVEL SECURITY")
        try:
            messages = run_checks(databases=["default"])
        finally:
            cursor.execute("ALTER TABLE testapp_label FORCE ROW LEVEL SECURITY")
    assert ids(messages) == ["prodpatterns.E020"]
    assert "testapp_label" in messages[[m.id for m in messages].index("prodpatterns.E020")].msg


@isolate_apps("tests.testapp")
def test_a_tenant_model_without_its_generated_ddl_is_an_error():
    class Stripped(TenantModel):
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"

    assert ids(checks.check_tenant_models(app_configs=[_config(Stripped)])) == []
    Stripped._meta.constraints = []
    messages = checks.check_tenant_models(app_configs=[_config(Stripped)])
    assert ids(messages) == ["prodpatterns.E021"]


@isolate_apps("tests.testapp")
def test_unique_constraints_without_the_tenant_are_flagged():
    class Invoice(TenantModel):
        number = models.CharField(max_length=10, unique=True)
        ref = models.CharField(max_length=10)
        slug = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"
            constraints = [
                models.UniqueConstraint(fields=["ref"], name="invoice_ref_uniq"),
                models.UniqueConstraint(fields=["tenant", "slug"], name="invoice_slug_uniq"),
            ]

    messages = checks.check_tenant_models(app_configs=[_config(Invoice)])
    assert ids(messages, "prodpatterns.W020") == ["prodpatterns.W020"] * 2
    text = " ".join(m.msg for m in messages)
    assert "number (unique=True)" in text
    assert "invoice_ref_uniq" in text
    assert "invoice_slug_uniq" not in text
    assert all('"tenant"' in m.hint for m in messages)


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        (MIDDLEWARE, []),
        ([m for m in MIDDLEWARE if m != TENANT], ["prodpatterns.W021"]),
        ([TENANT, *[m for m in MIDDLEWARE if m != TENANT]], ["prodpatterns.E022"]),
    ],
)
def test_middleware_missing_or_misordered(middleware, expected):
    assert MIDDLEWARE.index(TENANT) > MIDDLEWARE.index(AUTH)
    with override_settings(MIDDLEWARE=middleware):
        assert sorted(m.id for m in checks.check_tenant_middleware()) == expected


def _config(model):
    return model._meta.apps.get_app_config("testapp")


@isolate_apps("tests.testapp")
def test_a_foreign_object_between_tenant_models_gets_no_tenant_key_and_no_warning():
    """A ``ForeignObject`` is a join the database never checks (Django creates no constraint
    for it): preparing the model must not fail on the missing ``db_constraint``, no
    (tenant, key) foreign key is generated for it, and W023/W024 (about turned-off
    constraints) stay silent. A ForeignKey beside it still gets its tenant key."""

    class Account(TenantModel):
        code = models.CharField(max_length=10)

        class Meta:
            app_label = "testapp"
            constraints = [
                models.UniqueConstraint(fields=["tenant", "code"], name="account_code_uniq")
            ]

    class Entry(TenantModel):
        account_code = models.CharField(max_length=10)
        owner = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
        account = models.ForeignObject(
            Account,
            on_delete=models.DO_NOTHING,
            from_fields=["tenant", "account_code"],
            to_fields=["tenant", "code"],
            related_name="+",
        )

        class Meta:
            app_label = "testapp"

    keys = [c.field for c in Entry._meta.constraints if isinstance(c, TenantForeignKey)]
    assert keys == ["owner"]
    config = [_config(Entry)]
    messages = checks.check_tenant_models(app_configs=config)
    messages += check_references_into_tenants(app_configs=config)
    assert ids(messages, "prodpatterns.W02") == []
