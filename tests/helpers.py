"""Names and helpers shared by the test modules (shared fixtures are in tests/conftest.py).

Nothing here imports a model at import time: tests/conftest.py and the test app import this
module before Django's app registry is ready.
"""

import os
import time
from urllib.parse import quote

from django.conf import settings
from django.db import connections, models

# The database aliases of tests/settings.py. APP connects as the application role
# (NOSUPERUSER, NOBYPASSRLS, owns no table), so row level security applies to what runs on
# it; CROSS as the BYPASSRLS role (PRODPATTERNS["ADMIN_DATABASE"]); BOUNCER is the
# application role again through PgBouncer (transaction pooling), when it is installed.
APP = "app"
CROSS = "cross_tenant"
BOUNCER = ["bouncer"] if "bouncer" in settings.DATABASES else []


def delete_in_each_tenant(tenants, *tenant_models, using=APP):
    """Delete every row of ``tenant_models``, in that order, under each of ``tenants``.

    The rows a test left go before its tenants do (the tenant key PROTECTs). A plain
    ``QuerySet.delete()`` on the base manager: soft-deletable rows go for good too.
    """
    from django_prodpatterns.context import tenant_context

    for tenant in tenants:
        with tenant_context(tenant):
            for model in tenant_models:
                models.QuerySet.delete(model._base_manager.using(using).all())


def statement_seen(alias, marker, *, tries=100, pause=0.02):
    """Another backend's statement containing ``marker``, as ``pg_stat_activity`` shows it to
    ``alias``, once it carries the app's context (its text names ``prodpatterns``).

    Polls ``tries`` times, ``pause`` seconds apart, for a statement that another thread has
    in flight; returns ``""`` if it was not seen.
    """
    for _ in range(tries):
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity"
                " WHERE query LIKE %s AND pid <> pg_backend_pid()",
                [f"%{marker}%"],
            )
            row = cursor.fetchone()
        if row and "prodpatterns" in row[0]:
            return row[0]
        time.sleep(pause)
    return ""


def soft_delete_query_bound():
    """The acceptance bound on a soft delete's queries: related models x levels + 3, for
    testapp's Category -> Post -> Comment."""
    from django_prodpatterns.relations import child_edges
    from tests.testapp.models import Category, Post

    related = {edge.child for model in (Category, Post) for edge in child_edges(model)}
    return len(related) * 2 + 3


def superuser_url() -> str:
    """This run's superuser: ``DATABASE_URL``, or the embedded server's (a Unix socket)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    server = settings.SETUP_DATABASE
    return (
        f"postgresql://{quote(server['USER'])}@/{quote(server['NAME'])}"
        f"?host={quote(server['HOST'], safe='')}&port={server['PORT']}"
    )
