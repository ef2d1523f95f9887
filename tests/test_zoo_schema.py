"""What the zoo's shapes get in the database (read from the catalog) and from the checks.

Each generated object is looked up where PostgreSQL keeps it: row level security flags and
policies, composite tenant keys and the unique keys they reference, for the shapes that
once went wrong (a through model named by string, a to_field key, db_constraint=False, a
hidden relation, a mixed-case tenant column) and the ones that are refused or left alone
(multi-table inheritance, managed = False).
"""

import subprocess
import sys

import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

from django_prodpatterns import checks
from django_prodpatterns.db.constraints import ThroughRowLevelSecurity
from django_prodpatterns.markers import is_tenant_scoped
from django_prodpatterns.models import SoftDeleteModel, TenantModel
from tests.childrun import ROOT
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db

ZOO_TENANT_MODELS = [
    m
    for m in zoo.__dict__.values()
    if isinstance(m, type)
    and issubclass(m, models.Model)
    and not m._meta.abstract
    and not m._meta.proxy
    and is_tenant_scoped(m)
    and m._meta.managed
]


def rls(table: str) -> tuple[bool, bool, list[tuple[str, str]]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(table)],
        )
        enabled, forced = cursor.fetchone()
        cursor.execute(
            "SELECT policyname, qual FROM pg_policies WHERE tablename = %s ORDER BY 1", [table]
        )
        return enabled, forced, cursor.fetchall()


def foreign_keys(table: str) -> dict[str, str]:
    """{constraint definition: name} of the table's foreign keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid), conname FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [connection.ops.quote_name(table)],
        )
        return dict(cursor.fetchall())


def unique_keys(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('u', 'p')",
            [connection.ops.quote_name(table)],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("model", ZOO_TENANT_MODELS, ids=lambda m: m.__name__)
def test_every_tenant_table_forces_one_tenant_policy(model):
    enabled, forced, policies = rls(model._meta.db_table)
    assert (enabled, forced) == (True, True)
    assert len(policies) == 1
    tenant_column = connection.ops.quote_name(model._meta.get_field("tenant").column)
    assert tenant_column.strip('"') in policies[0][1]
    assert "prodpatterns_tenant_id()" in policies[0][1]


@pytest.mark.parametrize(
    ("model", "field"),
    [(zoo.Shelf, "badges"), (zoo.Shelf, "colours"), (zoo.Catalog, "badges")],
    ids=["tenant to tenant", "tenant to plain", "plain to tenant"],
)
def test_link_tables_with_a_tenant_end_have_a_policy(model, field):
    through = model._meta.get_field(field).remote_field.through
    enabled, forced, policies = rls(through._meta.db_table)
    assert (enabled, forced, len(policies)) == (True, True, 1)


def test_a_through_model_named_before_it_exists_is_resolved_and_keeps_its_own_policy():
    tags = zoo.Order._meta.get_field("tags")
    assert tags.remote_field.through is zoo.OrderTag
    assert not any(isinstance(c, ThroughRowLevelSecurity) for c in zoo.Order._meta.constraints)
    assert len(rls(zoo.OrderTag._meta.db_table)[2]) == 1


def test_tenant_keys_follow_every_reference_shape():
    crate = foreign_keys("menagerie_crate")
    assert (
        "FOREIGN KEY (tenant_id, aisle_id) REFERENCES menagerie_aisle(tenant_id, code)"
        " DEFERRABLE INITIALLY DEFERRED" in crate
    ), "to_field: the composite key references (tenant, code)"
    assert "UNIQUE (tenant_id, code)" in unique_keys("menagerie_aisle")
    assert (
        "FOREIGN KEY (tenant_id, project_id) REFERENCES testapp_project(tenant_id, id)"
        " DEFERRABLE INITIALLY DEFERRED" in crate
    ), "a tenant model of another app"
    assert not [d for d in crate if "loose_id" in d], "db_constraint=False holds"
    assert any(
        "(tenant_id, shelf_id) REFERENCES menagerie_shelf" in d
        for d in foreign_keys("menagerie_bin")
    )
    assert any(
        "(tenant_id, shelf_id) REFERENCES menagerie_shelf" in d
        for d in foreign_keys("menagerie_shelflabel")
    ), "a one-to-one primary key"
    assert 'UNIQUE ("OrgId", id)' in unique_keys("ZooMixedCase"), "a mixed-case tenant column"


def test_an_unmanaged_model_gets_no_ddl_and_a_warning():
    assert zoo.Ledger._meta.constraints == []
    enabled, forced, policies = rls("zoo_external_ledger")
    assert (enabled, forced, policies) == (False, False, [])
    messages = checks.check_model_shapes()
    assert [m.id for m in messages if m.obj is zoo.Ledger] == ["prodpatterns.W003"]


def test_db_constraint_false_between_tenant_models_is_warned():
    messages = checks.check_tenant_models()
    flagged = [m for m in messages if m.id == "prodpatterns.W023"]
    assert [m.obj for m in flagged] == [zoo.Crate._meta.get_field("loose")]


def test_a_to_field_target_is_not_told_to_drop_the_uniqueness_django_requires():
    messages = checks.check_tenant_models() + checks.check_soft_delete_uniqueness()
    assert [m.id for m in messages if m.obj is zoo.Aisle] == []


@isolate_apps("tests.zoo")
def test_a_unique_field_on_a_soft_deletable_tenant_model_gets_one_combined_hint():
    from django_prodpatterns.models import TenantBaseModel

    class Coupon(TenantBaseModel):
        code = models.CharField(max_length=10, unique=True)

        class Meta:
            app_label = "menagerie"

    config = type("Config", (), {"get_models": lambda self: [Coupon]})()
    messages = checks.check_tenant_models(
        app_configs=[config]
    ) + checks.check_soft_delete_uniqueness(app_configs=[config])
    assert [m.id for m in messages] == ["prodpatterns.W020"]
    assert 'alive_unique("tenant", "code", name="menagerie_coupon_code_alive_uniq")' in (
        messages[0].hint
    )


@isolate_apps("tests.zoo")
@pytest.mark.parametrize("base", [TenantModel, SoftDeleteModel], ids=lambda b: b.__name__)
def test_multi_table_inheritance_is_refused_by_an_app_check(base):
    class Parent(base):
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "menagerie"

    class Child(Parent):
        extra = models.CharField(max_length=10)

        class Meta:
            app_label = "menagerie"

    assert not [e for e in Child.check() if e.id == "models.E016"]
    config = type("Config", (), {"get_models": lambda self: [Parent, Child]})()
    messages = checks.check_model_shapes(app_configs=[config])
    assert [(m.id, m.obj) for m in messages] == [("prodpatterns.E003", Child)]
    assert "abstract = True" in messages[0].hint


def user_project(case: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.user_settings", case],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_makemigrations_without_the_tenant_model_setting_writes_a_plain_reference():
    """Regression: with PRODPATTERNS_TENANT_MODEL unset the autodetector crashed on
    ``settings.PRODPATTERNS_TENANT_MODEL``; a reference to the default tenant model is
    now written as the plain "prodpatterns.tenant"."""
    result = user_project("no-tenant-setting")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PRODPATTERNS_TENANT_MODEL" not in result.stdout
    assert "related_name='+', to='prodpatterns.tenant')" in result.stdout  # Franchise.owner


def test_a_typo_in_prodpatterns_is_e002_from_check_not_a_traceback_at_import():
    result = user_project("typo")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "prodpatterns.E002" in result.stderr
    assert "OWNER_DATBASE" in result.stderr
    assert "AUDIT_REDACT_FIELDS" in result.stderr


@pytest.mark.parametrize("app_label", ["menagerie", "testapp", "prodpatterns"])
def test_committed_migrations_match_the_models(app_label):
    """The generated DDL is migration state: a change to what the models generate (a
    tenant key dropped or added, a policy renamed) shows up here as a pending migration,
    in pytest as well as in makemigrations --check."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    changes = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps)).changes(
        graph=loader.graph, trim_to_apps={app_label}, convert_apps={app_label}
    )
    pending = [op.describe() for m in changes.get(app_label, []) for op in m.operations]
    assert pending == []
