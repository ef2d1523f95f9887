"""Audit capture on distributed tables, as the application role.

A tenant table's triggers run on its shards, one entry per row, into the log's shard of
the row's tenant (the log is distributed beside the tenant tables); tables on the
coordinator keep their statement triggers, whose entries reach the distributed log through
version 6 of the function. What has to hold is what holds on one server: every write kind
leaves its entry with actor, tenant and request, redacted columns never stored, the log
append-only for the application role and each tenant's entries shown to that tenant only;
and one object's history is read from one shard.
"""

import json

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from django_prodpatterns.bulk import copy_insert, upsert
from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.models import AuditLog, TenantAccess
from tests.citus.helpers import APP, task_count
from tests.citus.tenants.models import Customer, Order, OrderLine, Product

pytestmark = pytest.mark.django_db(databases=["default", "app", "cross_tenant"], transaction=True)

CUSTOMER = "citus_tenants.Customer"


def _rows(sql, params=(), using="default"):
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _entries(label, pk=None):
    """(action, object_pk, tenant_id, shard_tenant, actor_id, request_id, changes,
    snapshot) of the entries of ``label`` (and ``pk``), oldest first, read as the owner."""
    sql = (
        "SELECT action, object_pk, tenant_id, shard_tenant, actor_id, request_id, changes,"
        " snapshot FROM prodpatterns_auditlog WHERE model = %s"
    )
    params = [label]
    if pk is not None:
        sql += " AND object_pk = %s"
        params.append(str(pk))
    rows = _rows(sql + " ORDER BY timestamp, id", params)
    # jsonb, which a plain cursor reads as text
    return [(*row[:6], *(json.loads(v) if v is not None else v for v in row[6:])) for row in rows]


@pytest.fixture
def clerk(db):
    user = User.objects.create(username="clerk")
    yield user
    user.delete()


def test_the_log_is_distributed_beside_the_tenant_tables():
    layout = dict(
        _rows(
            "SELECT logicalrelid::text, (partmethod,"
            " column_to_column_name(logicalrelid, partkey), colocationid)::text"
            " FROM pg_dist_partition WHERE logicalrelid::text = ANY(%s)",
            [["prodpatterns_auditlog", "citus_tenants_customer"]],
        )
    )
    log, customer = layout["prodpatterns_auditlog"], layout["citus_tenants_customer"]
    assert log.startswith("(h,shard_tenant,")
    assert log.split(",")[-1] == customer.split(",")[-1]  # one colocation group
    (key,) = _rows(
        "SELECT array_agg(a.attname::text ORDER BY k.i) FROM pg_constraint c,"
        " unnest(c.conkey) WITH ORDINALITY AS k(n, i)"
        " JOIN pg_attribute a ON a.attrelid = 'prodpatterns_auditlog'::regclass"
        " AND a.attnum = k.n WHERE c.conrelid = 'prodpatterns_auditlog'::regclass"
        " AND c.contype = 'p'"
    )
    assert key == (["shard_tenant", "id"],)
    (column_type,) = _rows(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'prodpatterns_auditlog'::regclass AND attname = 'shard_tenant'"
    )
    assert column_type == ("bigint",)  # the tenant key's type: colocation needs it


def test_every_write_kind_leaves_its_entry_with_actor_tenant_and_request(tenant_pair, clerk):
    a, _ = tenant_pair
    with tenant_context(a), audit_context(actor=clerk, request_id="req-citus"):
        customer = Customer.objects.using(APP).create(name="Ada", email="ada@example.com")
        product = Product.objects.using(APP).create(sku="s", name="s")
        order = Order.objects.using(APP).create(customer=customer, number=1)
        OrderLine.objects.using(APP).create(order=order, product=product)
        customer.name = "Ada L."
        customer.save(using=APP)
        Customer.objects.using(APP).filter(pk=customer.pk).update(email="ada@new.example")
        customer.delete(using=APP)  # soft: the order and its line go with it
        Customer.deleted_objects.using(APP).get(pk=customer.pk).restore(using=APP)
        copy_insert(Product, [{"sku": f"c{n}", "name": "copied"} for n in range(3)], using=APP)
        upsert(
            Product,
            [{"sku": "c0", "name": "upserted"}, {"sku": "u", "name": "upserted"}],
            unique_fields=["sku"],
            update_fields=["name"],
            using=APP,
        )
        Customer.objects.using(APP).filter(pk=customer.pk).hard_delete()

    entries = _entries(CUSTOMER, customer.pk)
    assert [e[0] for e in entries] == [
        "create",
        "update",
        "update",
        "soft_delete",
        "restore",
        "delete",
    ]
    assert {e[2:6] for e in entries} == {(str(a.pk), a.pk, str(clerk.pk), "req-citus")}
    # The redacted email: neither in a snapshot nor in a change, whatever wrote it.
    for entry in entries:
        assert "example" not in str(entry[6]) + str(entry[7])
    assert entries[0][7]["email"] == "[redacted]" and entries[0][7]["name"] == "Ada"
    assert entries[2][6] == {"email": ["[redacted]", "[redacted]"]}
    assert entries[1][6]["name"] == ["Ada", "Ada L."]
    # The cascades (soft, then hard) and the restore left entries for the order and its
    # line too.
    for label in ("citus_tenants.Order", "citus_tenants.OrderLine"):
        assert [e[0] for e in _entries(label) if e[2] == str(a.pk)] == [
            "create",
            "soft_delete",
            "restore",
            "delete",
        ]
    # copy_insert and upsert: one entry per row, each with actor and tenant.
    products = [e for e in _entries("citus_tenants.Product") if e[2] == str(a.pk)]
    assert sorted((e[0], e[7]["sku"], e[7]["name"]) for e in products) == [
        ("create", "c0", "copied"),
        ("create", "c1", "copied"),
        ("create", "c2", "copied"),
        ("create", "s", "s"),
        ("create", "u", "upserted"),
        ("update", "c0", "upserted"),
    ]
    assert {e[2:6] for e in products} == {(str(a.pk), a.pk, str(clerk.pk), "req-citus")}


def test_an_objects_history_is_read_from_one_shard(tenant_pair):
    a, b = tenant_pair
    with tenant_context(a):
        customer = Customer.objects.using(APP).create(name="h", email="h@x")
        customer.name = "h2"
        customer.save(using=APP)
        history = customer.audit_history().using(APP)
        assert [e.action for e in history] == ["update", "create"]
        assert task_count(history) == 1
    with tenant_context(b):  # another tenant reads none of it, even by key
        assert list(customer.audit_history().using(APP)) == []
        assert (
            AuditLog.objects.using(APP).filter(model=CUSTOMER, object_pk=customer.pk).count() == 0
        )


def test_tenants_see_their_own_entries_only(tenant_pair):
    a, b = tenant_pair
    for tenant in (a, b):
        with tenant_context(tenant):
            Customer.objects.using(APP).create(name=f"n{tenant.pk}", email=f"{tenant.pk}@x")
    for tenant in (a, b):
        with tenant_context(tenant):
            seen = set(AuditLog.objects.using(APP).values_list("tenant_id", flat=True))
            assert seen == {str(tenant.pk)}
    with connections[APP].cursor() as cursor:  # no tenant: no tenant's entries
        cursor.execute("SELECT count(*) FROM prodpatterns_auditlog WHERE tenant_id IS NOT NULL")
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE prodpatterns_auditlog SET action = 'create'",
        "DELETE FROM prodpatterns_auditlog",
        "INSERT INTO prodpatterns_auditlog (timestamp, model, object_pk, action, tenant_id,"
        " shard_tenant) VALUES (now(), 'x.Forged', '1', 'create', %(t)s, %(t)s::bigint)",
        "TRUNCATE prodpatterns_auditlog",
    ],
    ids=["update", "delete", "insert", "truncate"],
)
def test_the_application_role_cannot_rewrite_the_log(tenant_pair, statement):
    a, _ = tenant_pair
    with tenant_context(a):
        Customer.objects.using(APP).create(name="w", email="w@x")
        before = _entries(CUSTOMER)
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(using=APP),
            connections[APP].cursor() as cursor,
        ):
            cursor.execute(statement, {"t": str(a.pk)})
    assert _entries(CUSTOMER) == before


def test_tables_on_the_coordinator_are_audited_into_the_distributed_log(tenant_pair):
    """A shared model's statement triggers (here the app's own TenantAccess) write through
    version 6's array; an entry made under a tenant lands on that tenant's shard."""
    a, _ = tenant_pair
    with tenant_context(a), audit_context(reason="support"):
        access = TenantAccess.objects.using("default").create(
            user_key="1",
            user_repr="staff",
            tenant_key=str(a.pk),
            tenant_repr="a",
            reason="support",
            started_at=timezone.now(),
        )
        TenantAccess.objects.using("default").filter(pk=access.pk).update(ended_at=timezone.now())
    TenantAccess.objects.using("default").filter(pk=access.pk).delete()  # no tenant
    entries = _entries("prodpatterns.TenantAccess", access.pk)
    assert [(e[0], e[2], e[3]) for e in entries] == [
        ("create", str(a.pk), a.pk),
        ("update", str(a.pk), a.pk),
        ("delete", None, 0),  # no tenant: the shard of the key type's zero
    ]
