"""The shop's Citus session: its own database on every node, migrated by the owner role
and seeded as the demo seeds it (two stores, their staff, customers, products, orders).

The tests read and write through the admin as the application role, like the example;
nothing is flushed between them (the application role may not truncate), so they are
written to run in file order on one seeded database, which is dropped at the end.
"""

import os

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from django_prodpatterns.devserver import citus
from django_prodpatterns.devserver.embedded import connect
from django_prodpatterns.ops.roles import APP_ROLE, grant_app_privileges

ORDERS = 60  # per store: three changelist pages


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    from example_project.shop.seed import seed

    with django_db_blocker.unblock():
        local = citus.create_database(settings.CLUSTER, settings.DATABASE_NAME)
        with connect(local.owner, autocommit=True) as conn:
            grant_app_privileges(conn, APP_ROLE.name)
        call_command("migrate", database="owner", verbosity=0, interactive=False)
        seed(orders=2 * ORDERS)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        if not os.environ.get("CITUS_KEEP_DATABASE"):
            citus.drop_database(settings.CLUSTER, settings.DATABASE_NAME)


@pytest.fixture(scope="session", autouse=True)
def _database(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield
