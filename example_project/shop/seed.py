"""Demo data: two stores with staff, customers, products and orders, seeded idempotently.

Each store is seeded inside its own ``tenant_context`` and ``audit_context``, as the
application role: row level security checks every row, the audit triggers record every
row, and the bulk paths keep a few thousand orders to seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from django_prodpatterns.conf import app_settings
from django_prodpatterns.context import audit_context, tenant_context

from .models import Customer, Order, OrderItem, Product, StaffMember, Store

STAFF_GROUP = "Store staff"
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
PRODUCTS = ["Mug", "Notebook", "Pen", "Lamp", "Backpack", "Bottle", "Cable", "Chair"]
ADJECTIVES = ["Blue", "Red", "Large", "Small", "Classic", "Travel"]


@dataclass(frozen=True)
class DemoStore:
    slug: str
    name: str
    staff: str  # username; the password is the same (a demo, on localhost)
    prefix: str  # of order numbers and SKUs, so each store's rows are easy to tell apart
    last_names: tuple[str, ...]  # of customers, also different per store


STORES = [
    DemoStore("north", "North Store", "alice", "N", ("Lovelace", "Turing", "Hopper", "Dijkstra")),
    DemoStore("south", "South Store", "bob", "S", ("Liskov", "Knuth", "Allen", "Hamilton")),
]


def staff_group() -> Group:
    """Staff may do everything with the store's rows and read the audit log."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    perms = Permission.objects.filter(
        content_type__app_label="shop",
        content_type__model__in=["customer", "product", "order", "orderitem"],
    ) | Permission.objects.filter(codename="view_auditlog")
    group.permissions.set(perms)
    return group


def seed(orders: int = 2000, out=None) -> dict[str, int]:
    """Make sure each demo store exists and has at least ``orders / len(STORES)`` orders.

    Returns the number of orders created per store (0 when there were enough already).
    """
    group = staff_group()
    created = {}
    for spec in STORES:
        store, _ = Store.objects.get_or_create(slug=spec.slug, defaults={"name": spec.name})
        user = _staff_user(spec, store, group)
        with tenant_context(store), audit_context(actor=user, reason="demo seed"):
            created[spec.slug] = _seed_store(spec, orders // len(STORES))
        if out is not None:
            out.write(f"{spec.name}: {created[spec.slug]} orders created")
    if any(created.values()):
        analyzed = analyze()
        if out is not None:
            out.write(f"Statistics updated for {analyzed} tables.")
    return created


def analyze() -> int:
    """Fresh statistics for the shop's tables once the rows are in.

    Autovacuum analyzes new rows only after a while; until then the planner takes the
    order list for a few rows and the first Orders page of a fresh demo took 1.5-3.2 s
    instead of 0.3 s. Only a table's owner can analyze it, so this runs on the owner alias.
    """
    alias = app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return 0
    tables = [m._meta.db_table for m in (Store, Customer, Product, Order, OrderItem, StaffMember)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        # what the planner now knows: rows counted by this ANALYZE, not the empty default
        cursor.execute(
            "SELECT count(*) FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s) AND last_analyze IS NOT NULL",
            [tables],
        )
        return cursor.fetchone()[0]


def _staff_user(spec: DemoStore, store: Store, group: Group):
    user, made = get_user_model().objects.get_or_create(
        username=spec.staff, defaults={"is_staff": True}
    )
    if made:
        user.set_password(spec.staff)
        user.save()
    user.groups.add(group)
    StaffMember.objects.get_or_create(user=user, defaults={"store": store})
    return user


@transaction.atomic
def _seed_store(spec: DemoStore, wanted: int) -> int:
    rng = random.Random(spec.slug)  # the same data on every machine
    if not Customer.all_objects.exists():
        Customer.objects.bulk_create(
            Customer(name=f"{first} {last}", email=f"{first}.{last}@{spec.slug}.example".lower())
            for first in FIRST_NAMES
            for last in spec.last_names
        )
        Product.objects.bulk_create(
            Product(
                sku=f"{spec.prefix}-{i:03}",
                name=f"{adjective} {noun}",
                price=Decimal(rng.randrange(300, 9000)) / 100,
            )
            for i, (adjective, noun) in enumerate((a, n) for a in ADJECTIVES for n in PRODUCTS)
        )
    have = Order.all_objects.count()
    missing = max(wanted - have, 0)
    if not missing:
        return 0
    customers = list(Customer.objects.only("pk"))
    products = list(Product.objects.only("pk", "price"))
    now = timezone.now().replace(microsecond=0)  # what the admin's form keeps
    orders = Order.objects.bulk_create(
        Order(
            number=f"{spec.prefix}{have + i + 1:06}",
            customer=rng.choice(customers),
            status=rng.choice(Order.Status.values),
            placed_at=now - timezone.timedelta(minutes=rng.randrange(60 * 24 * 90)),
        )
        for i in range(missing)
    )
    items = []
    for order in orders:
        for product in rng.sample(products, rng.randint(1, 4)):
            items.append(
                OrderItem(
                    order=order,
                    product=product,
                    quantity=rng.randint(1, 5),
                    unit_price=product.price,
                )
            )
    OrderItem.objects.bulk_create(items, batch_size=5000)
    return missing
