"""Every pattern on distributed tables, as the application role: soft-delete cascade and
restore, optimistic locking, keyset pagination, timestamps, the leak kit; and a query for
one tenant is routed to one shard (``EXPLAIN``: one task)."""

import pytest
from django.db import connections, transaction
from django.db.models import Count

from django_prodpatterns.bulk import copy_insert, upsert
from django_prodpatterns.context import tenant_context
from django_prodpatterns.exceptions import ConflictError, TenantMismatch
from django_prodpatterns.pagination import KeysetPaginator
from django_prodpatterns.testing import assert_tenant_isolation
from tests.citus.helpers import APP, plan_tasks, task_count
from tests.citus.tenants.models import Customer, Ledger, Order, OrderLine, Product, VipCustomer

CROSS = "cross_tenant"

pytestmark = pytest.mark.django_db(databases=["default", "app", "cross_tenant"], transaction=True)

TENANT_MODELS = [Customer, Order, OrderLine, Product, Ledger]


def _clean(tenants):
    for tenant in tenants:
        with tenant_context(tenant):
            for model in (OrderLine, Order, Product, Customer, Ledger):
                model._base_manager.using(APP).filter(tenant_id=tenant.pk).delete()


@pytest.fixture
def shop(tenant_pair):
    """Tenant A: a customer with two orders of two lines each; tenant B: the same shape."""
    made = {}
    for tenant in tenant_pair:
        with tenant_context(tenant), transaction.atomic(using=APP):
            customer = Customer.objects.using(APP).create(name="c", email=f"c{tenant.pk}@x")
            product = Product.objects.using(APP).create(sku="p", name="p")
            orders = []
            for number in (1, 2):
                order = Order.objects.using(APP).create(customer=customer, number=number)
                for _ in range(2):
                    OrderLine.objects.using(APP).create(order=order, product=product)
                orders.append(order)
            made[tenant.pk] = (customer, product, orders)
    yield tenant_pair, made
    _clean(tenant_pair)


def _make(model, tenant, made):
    customer, product, orders = made[tenant.pk]
    return {
        Customer: lambda: Customer(name="leak", email=f"leak-{tenant.pk}@x"),
        Product: lambda: Product(sku="leak", name="leak"),
        Order: lambda: Order(customer=customer, number=99),
        OrderLine: lambda: OrderLine(order=orders[0], product=product),
        Ledger: lambda: Ledger(amount=5),
    }[model]()


# A row of another tenant model that references the given one: the kit proves that A cannot
# reference B's row (the composite key, checked at once on the shard).
REFERENCES = {
    Customer: lambda customer: Order(customer=customer, number=98),
    Order: lambda order: OrderLine(
        order=order, product=Product.objects.using(APP).order_by("pk").first()
    ),
    Product: lambda product: OrderLine(
        order=Order.objects.using(APP).order_by("pk").first(), product=product
    ),
}


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_the_leak_kit_passes_on_every_distributed_model(shop, model):
    tenants, made = shop
    assert_tenant_isolation(
        model,
        lambda tenant: _make(model, tenant, made),
        tenants=tenants,
        using=APP,
        reference=REFERENCES.get(model),
    )


def test_a_lookup_and_a_page_are_routed_to_one_shard(shop):
    (a, _), made = shop
    customer = made[a.pk][0]
    with tenant_context(a):
        assert task_count(Customer.objects.using(APP).filter(pk=customer.pk)) == 1
        assert task_count(Order.objects.using(APP).filter(customer=customer)) == 1
        page = Order.objects.using(APP).order_by("-id")[:50]
        assert task_count(page) == 1
        assert task_count(VipCustomer.objects.using(APP).filter(pk=customer.pk)) == 1
        entry = Ledger.objects.using(APP).create(amount=1)
        assert task_count(Ledger.objects.using(APP).filter(pk=entry.pk)) == 1
        # A join between colocated tenant tables stays on the tenant's shard.
        joined = OrderLine.objects.using(APP).filter(order__customer=customer)
        assert task_count(joined) == 1


def test_keyset_pages_walk_every_row_once(shop):
    (a, _), made = shop
    with tenant_context(a):
        for number in range(3, 13):
            Order.objects.using(APP).create(customer=made[a.pk][0], number=number)
        paginator = KeysetPaginator(Order.objects.using(APP).order_by("number", "id"), per_page=5)
        seen, cursor = [], None
        while True:
            page = paginator.page(cursor)
            seen += [o.number for o in page]
            if not page.has_next:
                break
            cursor = page.next_cursor
    assert seen == list(range(1, 13))


def test_cascade_soft_delete_and_restore_stay_in_the_tenant(shop):
    (a, b), made = shop
    customer, _, _ = made[a.pk]
    with tenant_context(a):
        Customer.objects.using(APP).filter(pk=customer.pk).delete()
        assert Order.objects.using(APP).count() == 0
        assert OrderLine.objects.using(APP).count() == 0
        assert Order.deleted_objects.using(APP).count() == 2
        assert OrderLine.deleted_objects.using(APP).count() == 4
    with tenant_context(b):
        assert Order.objects.using(APP).count() == 2
        assert OrderLine.objects.using(APP).count() == 4
    with tenant_context(a):
        Customer.deleted_objects.using(APP).filter(pk=customer.pk).restore()
        assert Order.objects.using(APP).count() == 2
        assert OrderLine.objects.using(APP).count() == 4
        assert Order.deleted_objects.using(APP).count() == 0


def test_the_cascade_statements_are_routed_to_one_shard(shop):
    """Every statement the cascade and the restore send names the tenant: one task each."""
    (a, _), made = shop
    customer, _, _ = made[a.pk]
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with tenant_context(a):
        with connections[APP].execute_wrapper(record):
            Customer.objects.using(APP).filter(pk=customer.pk).delete()
            Customer.deleted_objects.using(APP).filter(pk=customer.pk).restore()
        writes = [(s, p) for s, p in statements if s.lstrip().upper().startswith("UPDATE")]
        assert writes, statements
        with transaction.atomic(using=APP):
            for sql, params in writes:
                assert plan_tasks(sql, params) == 1, sql


def test_a_stale_version_is_refused(shop):
    (a, _), made = shop
    order = made[a.pk][2][0]
    with tenant_context(a):
        first = Order.objects.using(APP).get(pk=order.pk)
        second = Order.objects.using(APP).get(pk=order.pk)
        first.status = "paid"
        first.save(using=APP)
        second.status = "cancelled"
        with pytest.raises(ConflictError):
            second.save(using=APP)
        assert Order.objects.using(APP).get(pk=order.pk).status == "paid"
        assert Order.objects.using(APP).get(pk=order.pk).version == first.version


def test_a_stale_delete_and_bulk_update_are_refused(shop):
    """The version checks that hold the row (SELECT ... FOR UPDATE, which Citus runs only
    with the tenant named) refuse a stale delete and a stale bulk update."""
    (a, _), made = shop
    order = made[a.pk][2][0]
    with tenant_context(a):
        stale = Order.objects.using(APP).get(pk=order.pk)
        fresh = Order.objects.using(APP).get(pk=order.pk)
        fresh.status = "paid"
        fresh.save(using=APP)
        with pytest.raises(ConflictError):
            stale.delete(using=APP)
        stale.status = "cancelled"
        with pytest.raises(ConflictError):
            Order.objects.using(APP).bulk_update([stale], ["status"])
        fresh.status = "shipped"
        Order.objects.using(APP).bulk_update([fresh], ["status"])
        fresh.delete(using=APP)
        assert Order.deleted_objects.using(APP).get(pk=order.pk).status == "shipped"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(lambda: Order.objects.annotate(n=Count("lines")), id="count-reverse"),
        pytest.param(
            lambda: Order.objects.values("number").annotate(n=Count("lines")), id="values-count"
        ),
        pytest.param(
            lambda: OrderLine.objects.select_related("order__customer", "product"),
            id="select-related",
        ),
        pytest.param(lambda: Customer.objects.filter(orders__lines__quantity=1), id="filter-join"),
        pytest.param(lambda: Order.objects.exclude(lines__quantity=5), id="exclude-subquery"),
    ],
)
def test_joins_and_aggregates_run_on_one_shard(shop, query):
    """Outer joins and GROUP BY on distributed tables: joins between tenant models match
    the tenant of both sides (Citus joins on one shard only then), and rows are grouped
    by all their columns (the database's primary key is (tenant, id))."""
    (a, _), _ = shop
    with tenant_context(a):
        rows = list(query().using(APP))
        assert rows
        assert task_count(query().using(APP)) == 1
        if "n" in query().query.annotations:
            counted = {r["n"] if isinstance(r, dict) else r.n for r in rows}
            assert counted == {2}  # each order has two lines


def test_timestamps_are_set_on_the_shards(shop):
    (a, _), made = shop
    customer = made[a.pk][0]
    with tenant_context(a):
        before = Customer.objects.using(APP).get(pk=customer.pk).updated_at
        Customer.objects.using(APP).filter(pk=customer.pk).update(name="renamed")
        after = Customer.objects.using(APP).get(pk=customer.pk)
    assert after.name == "renamed" and after.updated_at > before


def test_bulk_writes_land_in_the_tenant_on_one_shard(shop):
    """copy_insert and upsert send the rows as VALUES lists (Citus refuses INSERT ...
    SELECT under row level security), each statement routed to the tenant's shard."""
    (a, b), _ = shop
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    rows = [{"sku": f"s{n}", "name": f"product {n}"} for n in range(2500)]
    with tenant_context(a), connections[APP].execute_wrapper(record):
        assert copy_insert(Product, rows, using=APP) == 2500
        result = upsert(
            Product,
            [{"sku": "s1", "name": "renamed"}, {"sku": "new", "name": "new"}],
            unique_fields=["sku"],
            update_fields=["name"],
            using=APP,
        )
    assert (result.inserted, result.updated) == (1, 1)
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    assert len(inserts) == 4  # 1000 + 1000 + 500 rows, then the upsert
    with tenant_context(a):
        assert Product.objects.using(APP).filter(sku__startswith="s").count() == 2500
        assert Product.objects.using(APP).get(sku="s1").name == "renamed"
        with transaction.atomic(using=APP):
            for sql in inserts:
                assert plan_tasks(sql) == 1
    with tenant_context(b):
        assert not Product.objects.using(APP).filter(sku__startswith="s").exists()


def test_a_bulk_row_of_another_tenant_writes_nothing(shop):
    (a, b), _ = shop
    with tenant_context(a):
        before = Product.objects.using(APP).count()
        with pytest.raises(TenantMismatch):
            copy_insert(
                Product,
                [{"sku": "x", "name": "x"}, {"sku": "y", "name": "y", "tenant": b}],
                using=APP,
            )
        assert Product.objects.using(APP).count() == before


def test_a_cascade_across_tenants_runs_one_tenant_after_the_other(shop):
    """Citus plans a cascade's joins within one tenant only: without a tenant (the
    cross-tenant alias, no context) the delete and the restore run once per tenant the
    rows belong to, every statement naming its tenant and routed to its shard."""
    (a, b), made = shop
    customers = [made[a.pk][0].pk, made[b.pk][0].pk]
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connections[CROSS].execute_wrapper(record):
        assert Customer.all_objects.cross_tenant().filter(pk__in=customers).delete()[0] == 14
    for tenant in (a, b):
        with tenant_context(tenant):
            assert Order.objects.using(APP).count() == 0
            assert OrderLine.deleted_objects.using(APP).count() == 4
    writes = [(sql, p) for sql, p in statements if sql.lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 6  # customers, orders, lines: once per tenant
    with transaction.atomic(using=CROSS):
        for sql, params in writes:
            assert plan_tasks(sql, params, using=CROSS) == 1, sql
    restored = Customer.all_objects.cross_tenant().filter(pk__in=customers).restore()
    assert restored[0] == 14
    for tenant in (a, b):
        with tenant_context(tenant):
            assert OrderLine.objects.using(APP).count() == 4
