"""The one settings accessor: defaults, overrides, and no silent typos."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_prodpatterns.conf import DEFAULTS, app_settings


def test_defaults_apply_when_nothing_is_set():
    with override_settings(PRODPATTERNS={}):
        assert app_settings.TENANT_USER_ATTRIBUTE == "tenant"
        assert app_settings.OWNER_DATABASE is None
        assert app_settings.MIGRATE_RETRIES == 0


def test_override_settings_is_followed():
    with override_settings(PRODPATTERNS={"OWNER_DATABASE": "owner"}):
        assert app_settings.OWNER_DATABASE == "owner"
    assert app_settings.OWNER_DATABASE is None


def test_unknown_key_is_an_error_when_read():
    with (
        override_settings(PRODPATTERNS={"OWNER_DATBASE": "typo"}),
        pytest.raises(ImproperlyConfigured, match="OWNER_DATBASE"),
    ):
        app_settings.OWNER_DATABASE  # noqa: B018


def test_invalid_value_is_an_error_when_read():
    with (
        override_settings(PRODPATTERNS={"AUDIT_REDACT_FIELDS": "password"}),
        pytest.raises(ImproperlyConfigured, match="AUDIT_REDACT_FIELDS"),
    ):
        app_settings.AUDIT_REDACT_FIELDS  # noqa: B018


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        app_settings.NOT_A_SETTING  # noqa: B018


def test_every_default_is_valid():
    from django_prodpatterns.conf import validate

    assert validate(DEFAULTS) == []


def test_tenant_model_setting_has_a_default_and_can_be_swapped():
    assert app_settings.tenant_model == "prodpatterns.Tenant"
    with override_settings(PRODPATTERNS_TENANT_MODEL="shop.Store"):
        assert app_settings.tenant_model == "shop.Store"
