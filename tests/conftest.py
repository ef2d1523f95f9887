"""Fixtures shared by the whole suite.

The roles exist already (tests/settings.py creates them). The application and
cross-tenant roles get their data privileges in the test database from the app's own
pytest plugin (django_prodpatterns.testing), as in a user's project: nothing here grants
them. Every connection is closed before the test database is dropped.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.helpers import APP, delete_in_each_tenant

# The Citus tests need a cluster and settings of their own (tests/citus/pytest.ini):
# `CITUS_URL=... pytest tests/citus` runs them, the plain run never collects them.
collect_ignore = ["citus"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        # The async tests' database work (asyncio.run, AsyncClient) runs in asgiref's one
        # thread-sensitive worker thread, whose connections stay open: close them there, or
        # each is a ResourceWarning when the interpreter exits.
        asyncio.run(sync_to_async(connections.close_all)())
        if connections["default"].vendor == "postgresql":
            # Connections left open in worker threads (sync_to_async) would block DROP
            # DATABASE; end them from the superuser alias.
            with connections["setup"].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        connections.close_all()


@pytest.fixture
def invoice_tenants(tenant_pair):
    """``tenant_pair``; afterwards the invoices and invoice lines (tests/composed) of both
    tenants are deleted, as the application role, so that the tenants can go too."""
    from tests.composed.models import Invoice, InvoiceLine

    yield tenant_pair
    delete_in_each_tenant(tenant_pair, InvoiceLine, Invoice, using=APP)


@pytest.fixture
def fails(capsys, monkeypatch):
    """Run a command like manage.py would; return (exit status, stderr).

    ``run_from_argv`` closes every connection when it ends, which would end the test's
    transaction too; that one step is switched off.
    """
    from django.core.management import load_command_class

    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    def run_failing(*argv):
        command = load_command_class("django_prodpatterns", argv[0])
        with pytest.raises(SystemExit) as excinfo:
            command.run_from_argv(["manage.py", *argv])
        return excinfo.value.code, capsys.readouterr().err.strip()

    return run_failing


# The optional settings that some tests are about. tests/settings_bare.py sets none of them,
# so a test that needs one requests it here; the rest run on the defaults.


@pytest.fixture
def member_tenant(settings):
    """``PRODPATTERNS["TENANT_USER_ATTRIBUTE"] = "member.tenant"``, as tests/settings.py has.

    For requests from users given a tenant through ``tests.testapp.models.Member``: the
    default (``"tenant"``) reads ``user.tenant``, which Django's ``User`` does not have.
    """
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "TENANT_USER_ATTRIBUTE": "member.tenant"}


@pytest.fixture
def cross_tenant_alias(settings):
    """``PRODPATTERNS["ADMIN_DATABASE"] = "cross_tenant"`` (the BYPASSRLS alias), as
    tests/settings.py has; the default (None) allows no cross-tenant access."""
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "ADMIN_DATABASE": "cross_tenant"}
