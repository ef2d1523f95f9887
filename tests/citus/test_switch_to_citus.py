"""A project that already has data switches to Citus: the migration makemigrations wrote
once Citus mode was on moves its tables, rows and keys onto the cluster.

The session leaves ``citus_switched`` at its first migration (written on one server: local
tables, the plain policy, single-column keys); this test gives it rows of two tenants and a
shared table pointing at the tenant table, then runs the second migration.
"""

import pytest
from django.core.management import call_command
from django.db import connections

from django_prodpatterns.context import tenant_context
from django_prodpatterns.ops import drift
from django_prodpatterns.testing import assert_tenant_isolation
from tests.citus.helpers import APP, task_count
from tests.citus.switched.models import Account, Invoice, Note

pytestmark = pytest.mark.django_db(databases=["default", "app", "cross_tenant"], transaction=True)

TABLES = ("citus_switched_account", "citus_switched_invoice")


def _rows(sql, params=(), using="default"):
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _layout():
    return dict(
        _rows(
            "SELECT logicalrelid::text, partmethod FROM pg_dist_partition"
            " WHERE logicalrelid::text = ANY(%s)",
            [list(TABLES)],
        )
    )


def _foreign_keys():
    return sorted(
        _rows(
            "SELECT conrelid::regclass::text, confrelid::regclass::text,"
            " array_length(conkey, 1) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [[*TABLES, "citus_switched_note"]],
        )
    )


def test_rows_of_a_project_on_one_server_move_onto_the_cluster(tenant_pair):
    a, b = tenant_pair
    assert _layout() == {}  # local tables on the coordinator
    for tenant, accounts in ((a, 3), (b, 2)):
        with tenant_context(tenant):
            for n in range(accounts):
                account = Account.objects.using(APP).create(name=f"account {n}")
                for number in range(2):
                    Invoice.objects.using(APP).create(account=account, number=number)
        Note.objects.using("default").create(tenant=tenant, text="shared")
    # While the other app's tenant tables were laid out, the tenant table became a
    # reference table: these tenant tables' keys to it are set aside until they follow
    # (Citus would otherwise make them "citus local" tables, which it cannot distribute).
    held = "SELECT relation::text, referenced::text FROM prodpatterns_private.citus_held_keys"
    assert sorted(_rows(held)) == [
        ("citus_switched_account", "prodpatterns_tenant"),
        ("citus_switched_invoice", "prodpatterns_tenant"),
    ]

    call_command("migrate", "citus_switched", verbosity=0)

    assert _layout() == {"citus_switched_account": "h", "citus_switched_invoice": "h"}
    # Every key is there (the composite one between the tenant tables, each tenant table's
    # key to the tenant table, the shared table's), and none is left aside.
    assert _foreign_keys() == [
        ("citus_switched_account", "prodpatterns_tenant", 1),
        ("citus_switched_invoice", "citus_switched_account", 2),
        ("citus_switched_invoice", "prodpatterns_tenant", 1),
        ("citus_switched_note", "prodpatterns_tenant", 1),
    ]
    assert _rows(held) == []
    assert drift.differences(connections["default"]) == []
    for tenant, accounts in ((a, 3), (b, 2)):
        with tenant_context(tenant):
            assert Account.objects.using(APP).count() == accounts
            assert Invoice.objects.using(APP).count() == accounts * 2
            first = Account.objects.using(APP).order_by("id").first()
            assert task_count(Invoice.objects.using(APP).filter(account=first)) == 1
            Account.objects.using(APP).filter(pk=first.pk).delete()  # cascades on the shard
            assert Invoice.deleted_objects.using(APP).count() == 2
            # Audited on one server by statement triggers, row by row on the cluster: one
            # history, on the tenant's shard of the log.
            history = first.audit_history().using(APP)
            assert [entry.action for entry in history] == ["soft_delete", "create"]
            assert task_count(history) == 1
    assert Note.objects.using("default").count() == 2
    assert_tenant_isolation(
        Invoice,
        lambda tenant: Invoice(account=Account.objects.using(APP).last(), number=9),
        tenants=(a, b),
        using=APP,
    )
