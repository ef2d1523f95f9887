"""Citus mode's system checks, on the model zoo's shapes (no cluster needed: the checks
read the models only)."""

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps

from django_prodpatterns.checks import check_citus_shapes, check_tenant_models
from django_prodpatterns.markers import AUDITED_MARKER
from django_prodpatterns.models import TenantModel
from django_prodpatterns.models.tenancy import get_tenant_model


def _ids(messages, obj_label=None):
    found = set()
    for message in messages:
        obj = message.obj
        model = obj if isinstance(obj, type) else obj.model
        label = model._meta.label + ("" if obj is model else f".{obj.name}")
        if obj_label is None or label == obj_label:
            found.add(message.id)
    return found


@pytest.fixture
def citus_mode(settings):
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "CITUS": True}


def _zoo():
    return [apps.get_app_config("menagerie")]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("menagerie.Shelf.badges", True),  # tenant to tenant, auto-created link table
        ("menagerie.Shelf.colours", True),  # tenant to shared
        ("menagerie.Catalog.badges", True),  # shared to tenant
        ("menagerie.Order.tags", False),  # through a tenant model: placed on the tenant's shard
    ],
)
def test_links_without_a_tenant_column_are_errors(citus_mode, field, expected):
    assert ("prodpatterns.E041" in _ids(check_citus_shapes(_zoo()), field)) is expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("menagerie.Note.content_type", True),  # tenant table to a shared one
        ("menagerie.Franchise.owner", False),  # shared to the tenant model (a reference table)
        ("menagerie.Bin.shelf", False),  # between tenant models: the composite key
        ("menagerie.Crate.loose", False),  # no database constraint
    ],
)
def test_keys_between_tenant_and_shared_tables_are_errors(citus_mode, field, expected):
    assert ("prodpatterns.E042" in _ids(check_citus_shapes(_zoo()), field)) is expected


def test_audited_tenant_and_shared_models_are_captured_in_citus_mode(citus_mode):
    """Tenant tables row by row on their shards, shared ones on the coordinator."""
    messages = check_citus_shapes(_zoo())
    assert "prodpatterns.E043" not in _ids(messages, "menagerie.Badge")
    assert "prodpatterns.E043" not in _ids(messages, "menagerie.Entry")


def test_an_audited_tenant_model_is_an_error_in_citus_mode(citus_mode, monkeypatch):
    """The tenant model is a reference table, a copy on every node: its triggers would run
    on each node. (The project's tenant model, audited: here the default one, marked.)"""
    tenant_model = get_tenant_model()
    assert "prodpatterns.E043" not in _ids(check_citus_shapes())
    monkeypatch.setattr(tenant_model, AUDITED_MARKER, True, raising=False)
    assert "prodpatterns.E043" in _ids(check_citus_shapes(), tenant_model._meta.label)
    assert "prodpatterns.E043" not in _ids(check_citus_shapes(_zoo()))  # another app's


@isolate_apps("tests.testapp")
def test_uniqueness_without_the_tenant_is_an_error_in_citus_mode(settings):
    class Invoice(TenantModel):
        number = models.CharField(max_length=10, unique=True)

        class Meta:
            app_label = "testapp"

    config = [SimpleNamespace(get_models=lambda: [Invoice])]
    plain = _ids(check_tenant_models(config))
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "CITUS": True}
    citus = _ids(check_tenant_models(config))
    assert plain == {"prodpatterns.W020"}
    assert citus == {"prodpatterns.E040"}


def test_nothing_is_reported_outside_citus_mode():
    assert check_citus_shapes(_zoo()) == []
