"""The example shop's admin on the Citus cluster, as its staff uses it.

The walk of tests/test_browser.py, with Django's test client instead of a browser: Alice,
staff of the North Store, sees her store's rows only (lists, search, autocomplete, the
audit log), soft-deletes an order with its items, restores the batch from the trash,
edits the order and finds the change in its history, and a second save from a stale form
is refused. Every request runs as the application role through the signed context, on
tables distributed by store; the changelist's queries are each routed to one shard.
"""

import re
from html.parser import HTMLParser

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import AuditLog
from example_project.shop.models import Order, Store
from example_project.shop.seed import STORES
from tests.citus.helpers import plan_tasks
from tests.citus.shop.conftest import ORDERS

NORTH, SOUTH = STORES
NUMBER_LINK = re.compile(r'<th class="field-number"><a href="([^"]+)">(\w+)</a>')


class _Form(HTMLParser):
    """The fields of the page's form with id ``form_id``, as a browser would submit them
    (text inputs, hidden ones, checked boxes, the selected option, textareas)."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.data[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_data(page, form_id):
    parser = _Form(form_id)
    parser.feed(page.content.decode())
    assert parser.data, f"no form {form_id}"
    return parser.data


def text(page):
    assert page.status_code == 200, page.status_code
    return page.content.decode()


@pytest.fixture(scope="module")
def alice():
    client = Client()
    assert client.login(username=NORTH.staff, password=NORTH.staff)
    return client


def test_alice_sees_her_stores_rows_only(alice):
    page = text(alice.get("/admin/shop/order/"))
    numbers = [number for _, number in NUMBER_LINK.findall(page)]
    assert numbers and all(number.startswith(NORTH.prefix) for number in numbers)
    assert f"{ORDERS} orders" in page
    assert any(name in page for name in NORTH.last_names)
    assert not any(name in page for name in SOUTH.last_names)  # the customer filter too
    assert "0 orders" in text(alice.get(f"/admin/shop/order/?q={SOUTH.prefix}0"))
    found = alice.get(
        "/admin/autocomplete/?app_label=shop&model_name=order&field_name=customer"
    ).json()["results"]
    assert found and all(any(n in r["text"] for n in NORTH.last_names) for r in found)
    log = text(alice.get("/admin/prodpatterns/auditlog/"))
    assert NORTH.staff in log and SOUTH.staff not in log


def test_the_changelists_queries_each_run_on_one_shard(alice):
    with CaptureQueriesContext(connections["default"]) as queries:
        text(alice.get("/admin/shop/order/?status=new"))
    reads = [
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and "shop_order" in q["sql"]
    ]
    assert len(reads) >= 2  # the count and the page at least
    with tenant_context(Store.objects.get(slug=NORTH.slug)):
        assert [plan_tasks(sql, using="default") for sql in reads] == [1] * len(reads)


def test_delete_restore_edit_and_conflict(alice):
    page = text(alice.get("/admin/shop/order/"))
    change_url, number = NUMBER_LINK.findall(page)[-1]
    assert change_url.endswith("/change/")
    base = change_url.removesuffix("change/")
    north = Store.objects.get(slug=NORTH.slug)
    with tenant_context(north):
        order = Order.objects.using("owner").get(number=number)
        items = order.items.count()
    assert items >= 1

    # Soft-delete the order: its items go with it.
    assert "Are you sure" in text(alice.get(f"{base}delete/"))
    done = alice.post(f"{base}delete/", {"post": "yes"}, follow=True)
    assert "was deleted successfully" in text(done)
    assert "0 order items" in text(alice.get(f"/admin/shop/orderitem/?q={number}"))
    deleted = text(alice.get(f"/admin/shop/orderitem/?q={number}&deleted=deleted"))
    assert f"{items} order item" in deleted

    # The trash: restore the batch, after its preview.
    trash = f"/admin/shop/order/?deleted=deleted&q={number}"
    action = {"action": "restore_selected", "_selected_action": [order.pk], "index": 0}
    preview = text(alice.post(trash, action))
    assert f"shop.OrderItem: {items}" in preview and number in preview
    restored = alice.post(trash, {**action, "post": "yes"}, follow=True)
    assert f"Restored {items + 1} rows" in text(restored)
    assert f"{items} order item" in text(alice.get(f"/admin/shop/orderitem/?q={number}"))

    # Two forms of the same order: the first save goes in, the second is refused.
    first = form_data(alice.get(change_url), "order_form")
    second = dict(first)
    saved = alice.post(change_url, {**first, "note": "gift wrap", "_continue": "1"})
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    refused = alice.post(change_url, {**second, "note": "from a stale form", "_continue": "1"})
    conflict = text(refused)  # the form again, saying why
    assert f"{NORTH.staff} saved this order" in conflict and "Nothing was saved" in conflict
    with tenant_context(north):
        order.refresh_from_db(using="owner")
    assert order.note == "gift wrap"

    # The history: every step, from the order's shard of the log.
    history = text(alice.get(f"{base}history/", follow=True))
    for step in ("update", "restore", "soft delete", "create"):
        assert step in history

    # Revert to the order as it was created: the note goes again.
    with tenant_context(north):
        created = AuditLog.objects.using("owner").for_object(order).get(action="create")
    revert = f"/admin/prodpatterns/auditlog/{created.pk}/revert/"
    preview = text(alice.get(revert))
    assert "gift wrap" in preview
    (version,) = re.findall(r'name="version" value="(\d+)"', preview)
    done = alice.post(revert, {"version": version}, follow=True)
    assert "Reverted to audit entry" in text(done)
    with tenant_context(north):
        order.refresh_from_db(using="owner")
    assert order.note == ""
