"""The Citus test session: a database of its own on every node of the cluster.

The test database is created on the coordinator and each worker (Citus does not propagate
``CREATE DATABASE``), migrated by the owner role, and the application and cross-tenant
roles get their privileges as in the plain suite. It is dropped on every node at the end.
"""

import os

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.utils.module_loading import module_has_submodule

from django_prodpatterns.devserver import citus
from django_prodpatterns.devserver.embedded import connect
from django_prodpatterns.ops.roles import APP_ROLE, CROSS_TENANT_ROLE, grant_app_privileges

SWITCHED = "citus_switched"

# The example shop's tests (shop/) run in a child pytest with settings of their own
# (test_shop_on_citus.py), which sets this; the session collecting the rest leaves them.
SHOP_RUN = "PRODPATTERNS_CITUS_SHOP_RUN"
collect_ignore = [] if os.environ.get(SHOP_RUN) else ["shop"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    with django_db_blocker.unblock():
        local = citus.create_database(settings.CLUSTER, settings.DATABASE_NAME)
        with connect(local.owner, autocommit=True) as conn:
            for role in (APP_ROLE, CROSS_TENANT_ROLE):
                grant_app_privileges(conn, role.name)
        # Every app to its last migration, but the switched project: it stays as it was on
        # one server, for test_switch_to_citus.py to move onto the cluster.
        call_command("migrate", SWITCHED, "0001", verbosity=0, interactive=False)
        for config in apps.get_app_configs():
            if config.label != SWITCHED and module_has_submodule(config.module, "migrations"):
                call_command("migrate", config.label, verbosity=0, interactive=False)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        if not os.environ.get("CITUS_KEEP_DATABASE"):  # kept: to look into after a failure
            citus.drop_database(settings.CLUSTER, settings.DATABASE_NAME)
