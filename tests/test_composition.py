"""Every combination of the pattern bases passes the same manager and behaviour tests.

``tests/composed`` holds one model per combination, including both inheritance orders of
each pair; what a model should do is read from its markers, so one parametrised test
covers all of them. Everything runs as the application role, under row level security.
"""

from contextlib import nullcontext

import pytest
from django.db import connections, models
from django.test.utils import CaptureQueriesContext, isolate_apps

from django_prodpatterns.checks import check_pattern_managers
from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.exceptions import ConflictError, TenantMismatch, TenantRequired
from django_prodpatterns.markers import (
    has_updated_at,
    is_soft_deletable,
    is_tenant_scoped,
    is_versioned,
)
from django_prodpatterns.models import AuditLog, SoftDeleteModel, TenantModel
from django_prodpatterns.querysets import PatternManager
from tests.composed import models as composed
from tests.helpers import APP, delete_in_each_tenant

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])

COMBINATIONS = [
    composed.BaseRow,
    composed.BaseVersionedRow,
    composed.VersionedBaseRow,
    composed.TenantRow,
    composed.TenantVersionedRow,
    composed.VersionedTenantRow,
    composed.SoftTenantRow,
    composed.TenantSoftRow,
    composed.SoftVersionedRow,
    composed.VersionedSoftRow,
    composed.TimestampedSoftRow,
    composed.TenantVersionedOnlyRow,
    composed.VersionedTenantOnlyRow,
]
VERSIONED = [m for m in COMBINATIONS if is_versioned(m)]
SOFT = [m for m in COMBINATIONS if is_soft_deletable(m)]
TENANT = [m for m in COMBINATIONS if is_tenant_scoped(m)]
by_name = pytest.mark.parametrize("model", COMBINATIONS, ids=lambda m: m.__name__)


@pytest.fixture
def combination_tenants(tenant_pair):
    """Two tenants; the rows of every tenant combination go before the tenants do."""
    yield tenant_pair
    delete_in_each_tenant(tenant_pair, *TENANT)


def inside(model, tenant):
    """The tenant's context for a tenant model; nothing for the others."""
    return tenant_context(tenant) if is_tenant_scoped(model) else nullcontext()


def names(queryset):
    return sorted(queryset.using(APP).values_list("name", flat=True))


def test_the_combinations_cover_each_pair_in_both_orders():
    orders = {tuple(b.__name__ for b in m.__bases__[:2]) for m in COMBINATIONS}
    for first, second in [
        ("BaseModel", "VersionedModel"),
        ("TenantBaseModel", "VersionedModel"),
        ("SoftDeleteModel", "TenantModel"),
        ("SoftDeleteModel", "VersionedModel"),
        ("TenantModel", "VersionedModel"),
    ]:
        assert (first, second) in orders and (second, first) in orders


@by_name
def test_managers_show_the_promised_rows(model, combination_tenants):
    a, b = combination_tenants
    with inside(model, b):
        model.objects.using(APP).create(name="b-alive")
    with inside(model, a):
        model.objects.using(APP).create(name="a-alive")
        model.objects.using(APP).create(name="a-gone").delete(using=APP)
        others = [] if is_tenant_scoped(model) else ["b-alive"]
        assert names(model.objects) == ["a-alive", *others]
        assert model._default_manager is model.objects
        if is_soft_deletable(model):
            assert names(model.all_objects) == ["a-alive", "a-gone", *others]
            assert names(model.deleted_objects) == ["a-gone"]
            assert names(model.objects.all().dead()) == []
        else:
            assert not hasattr(model, "all_objects")
            assert names(model._base_manager.filter(name="a-gone")) == []
    for manager in model._meta.managers:
        assert isinstance(manager, PatternManager)
        if is_tenant_scoped(model):
            with pytest.raises(TenantRequired, match=model._meta.label):
                manager.using(APP).count()


@by_name
def test_a_save_is_one_query_and_moves_what_the_model_carries(model, combination_tenants):
    a, _ = combination_tenants
    with inside(model, a):
        row = model.objects.using(APP).create(name="one")
        before = row.updated_at if has_updated_at(model) else None
        row.name = "two"
        with CaptureQueriesContext(connections[APP]) as queries:
            row.save(using=APP)
        assert len(queries) == 1
        stored = model._base_manager.using(APP).get(pk=row.pk)
        assert stored.name == "two"
        if has_updated_at(model):
            assert stored.updated_at > before == stored.created_at
        if is_versioned(model):
            assert stored.version == row.version == 2
        if is_tenant_scoped(model):
            assert stored.tenant_id == a.pk


@by_name
def test_delete_and_restore_move_version_and_updated_at(model, combination_tenants):
    a, _ = combination_tenants
    with inside(model, a):
        row = model.objects.using(APP).create(name="r")
        start = model._base_manager.using(APP).get(pk=row.pk)
        if not is_soft_deletable(model):
            row.delete(using=APP)
            assert not model._base_manager.using(APP).filter(pk=row.pk).exists()
            return
        row.delete(using=APP)
        deleted = model._base_manager.using(APP).get(pk=row.pk)
        assert deleted.deleted_at is not None and row.deleted_at == deleted.deleted_at
        if has_updated_at(model):
            assert deleted.updated_at == deleted.deleted_at > start.updated_at
        if is_versioned(model):
            assert deleted.version == row.version == 2
        row.restore(using=APP)
        restored = model._base_manager.using(APP).get(pk=row.pk)
        assert restored.deleted_at is None
        if is_versioned(model):
            assert restored.version == row.version == 3
        row.name = "saved after restore"
        row.save(using=APP)  # the instance knows its version: no conflict


@pytest.mark.parametrize("model", VERSIONED, ids=lambda m: m.__name__)
@pytest.mark.parametrize("write", ["save", "delete", "hard_delete", "restore"])
def test_a_stale_instance_conflicts_on_every_write(model, write, combination_tenants):
    a, _ = combination_tenants
    if write in ("hard_delete", "restore") and not is_soft_deletable(model):
        write = "delete"
    with inside(model, a):
        row = model.objects.using(APP).create(name="v1")
        if write == "restore":
            row.delete(using=APP)
        stale = model._base_manager.using(APP).get(pk=row.pk)
        row.name = "v2"
        row.save(using=APP)
        with pytest.raises(ConflictError) as excinfo:
            if write == "save":
                stale.name = "lost"
                stale.save(using=APP)
            else:
                getattr(stale, write)(using=APP)
        assert (excinfo.value.expected, excinfo.value.current) == (stale.version, row.version)
        stored = model._base_manager.using(APP).get(pk=row.pk)
        assert (stored.name, stored.version) == ("v2", row.version)
        if is_soft_deletable(model):
            assert stored.deleted_at == row.deleted_at


@by_name
def test_update_moves_versions_and_timestamps_and_never_the_tenant(model, combination_tenants):
    a, b = combination_tenants
    with inside(model, a):
        row = model.objects.using(APP).create(name="u")
        assert model.objects.using(APP).update(name="changed") == 1
        stored = model._base_manager.using(APP).get(pk=row.pk)
        assert stored.name == "changed"
        if is_versioned(model):
            assert stored.version == 2
        if has_updated_at(model):
            assert stored.updated_at > row.updated_at
        if is_tenant_scoped(model):
            with pytest.raises(TenantMismatch):
                model.objects.using(APP).update(tenant_id=b.pk)


@pytest.mark.parametrize("model", [m for m in COMBINATIONS if hasattr(m, "audit_history")])
def test_audited_combinations_record_actor_and_tenant(
    model, combination_tenants, django_user_model
):
    a, _ = combination_tenants
    actor = django_user_model.objects.create_user("auditor")
    with inside(model, a), audit_context(actor=actor):
        row = model.objects.using(APP).create(name="a")
        row.delete(using=APP)
        entries = AuditLog.objects.using(APP).filter(model=model._meta.label, object_pk=row.pk)
        assert sorted(e.action for e in entries) == ["create", "soft_delete"]
        assert {e.actor_id for e in entries} == {str(actor.pk)}
        tenants = {e.tenant_id for e in entries}
        assert tenants == ({str(a.pk)} if is_tenant_scoped(model) else {None})


def test_the_check_confirms_every_combinations_managers():
    from django.apps import apps

    assert check_pattern_managers(app_configs=[apps.get_app_config("composed")]) == []


@isolate_apps("tests.composed")
def test_the_check_flags_managers_that_show_the_wrong_rows():
    class PlainSoft(SoftDeleteModel):
        objects = models.Manager()

        class Meta:
            app_label = "composed"

    class SwappedNames(SoftDeleteModel):
        # Declared here, it also becomes the default manager (Django's rule): two warnings.
        all_objects = PatternManager(rows="deleted")

        class Meta:
            app_label = "composed"

    class PlainTenant(TenantModel):
        everyone = models.Manager()

        class Meta:
            app_label = "composed"

    messages = check_pattern_managers(app_configs=[PlainSoft._meta.apps.get_app_config("composed")])
    found = sorted((m.id, m.obj.__name__) for m in messages)
    assert found == [
        ("prodpatterns.W013", "PlainSoft"),
        ("prodpatterns.W013", "SwappedNames"),
        ("prodpatterns.W013", "SwappedNames"),
        ("prodpatterns.W022", "PlainTenant"),
    ]
    assert any("all_objects" in m.msg and "all rows" in m.msg for m in messages)
    assert all("PatternManager.from_queryset" in m.hint for m in messages)


def test_a_bad_rows_value_is_refused():
    with pytest.raises(ValueError, match="alive, all, deleted"):
        PatternManager(rows="dead")
