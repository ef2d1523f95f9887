"""The Citus test session: a database of its own on every node of the cluster.

The test database is created on the coordinator and each worker (Citus does not propagate
``CREATE DATABASE``), migrated by the owner role, and the application and cross-tenant
roles get their privileges as in the plain suite. It is dropped on every node at the end.
"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from django_prodpatterns.devserver import citus
from django_prodpatterns.devserver.embedded import connect
from django_prodpatterns.ops.roles import APP_ROLE, CROSS_TENANT_ROLE, grant_app_privileges


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    with django_db_blocker.unblock():
        local = citus.create_database(settings.CLUSTER, settings.DATABASE_NAME)
        with connect(local.owner, autocommit=True) as conn:
            for role in (APP_ROLE, CROSS_TENANT_ROLE):
                grant_app_privileges(conn, role.name)
        call_command("migrate", verbosity=0, interactive=False)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        citus.drop_database(settings.CLUSTER, settings.DATABASE_NAME)
