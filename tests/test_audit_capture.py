"""Every kind of write leaves exactly the expected audit entries, captured by triggers."""

import pytest
from django.db import DataError, connection, transaction

from django_prodpatterns.models import AuditLog
from tests.testapp.models import Document

pytestmark = pytest.mark.django_db


def entries():
    return [(e.action, e.changes) for e in AuditLog.objects.order_by("id")]


def doc(**kwargs):
    return Document.objects.create(title=kwargs.pop("title", "t"), **kwargs)


def fresh(action):
    """Run ``action`` on three documents, return (documents, entries it wrote)."""
    docs = [doc(title=f"d{i}") for i in range(3)]
    before = AuditLog.objects.count()
    action(docs)
    return docs, [(e.action, e.changes) for e in AuditLog.objects.order_by("id")[before:]]


def changed(entries_):
    return [(action, sorted(changes or {})) for action, changes in entries_]


CASES = [
    ("create", lambda docs: doc(title="new"), [("create", [])]),
    (
        "save update",
        lambda docs: (setattr(docs[0], "title", "x"), docs[0].save()),
        [("update", ["title"])],
    ),
    ("save without change", lambda docs: docs[0].save(), []),
    ("hard delete", lambda docs: docs[0].hard_delete(), [("delete", [])]),
    (
        "soft delete",
        lambda docs: docs[0].delete(),
        [("soft_delete", ["deleted_at", "deletion_batch"])],
    ),
    (
        "restore",
        lambda docs: (docs[0].delete(), docs[0].restore()),
        [
            ("soft_delete", ["deleted_at", "deletion_batch"]),
            ("restore", ["deleted_at", "deletion_batch"]),
        ],
    ),
    (
        "QuerySet.update",
        lambda docs: Document.objects.update(body="b"),
        [("update", ["body"])] * 3,
    ),
    (
        "bulk_create",
        lambda docs: Document.objects.bulk_create([Document(title="a"), Document(title="b")]),
        [("create", [])] * 2,
    ),
    (
        "bulk_update",
        lambda docs: (
            [setattr(d, "body", "z") for d in docs],
            Document.objects.bulk_update(docs, ["body"]),
        ),
        [("update", ["body"])] * 3,
    ),
    (
        "QuerySet.delete (soft)",
        lambda docs: Document.objects.filter(pk__in=[d.pk for d in docs[:2]]).delete(),
        [("soft_delete", ["deleted_at", "deletion_batch"])] * 2,
    ),
    (
        "raw SQL UPDATE",
        lambda docs: connection.cursor().execute(
            "UPDATE testapp_document SET body = 'raw' WHERE id = %s", [docs[1].pk]
        ),
        [("update", ["body"])],
    ),
]


@pytest.mark.parametrize(("name", "action", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_write_is_recorded(name, action, expected):
    _, written = fresh(action)
    assert changed(written) == expected


def test_update_diff_holds_old_and_new_values():
    d = doc(title="before", body="same")
    d.title = "after"
    d.save()
    entry = AuditLog.objects.for_object(d).first()
    assert entry.action == "update"
    assert entry.changes == {"title": ["before", "after"]}
    assert entry.snapshot["title"] == "after"
    assert entry.snapshot["body"] == "same"
    assert entry.model == "testapp.Document"
    assert entry.object_pk == str(d.pk)


def test_create_snapshot_and_history_order():
    d = doc(title="one")
    d.title = "two"
    d.save()
    history = list(d.audit_history())
    assert [e.action for e in history] == ["update", "create"]
    assert history[1].snapshot["title"] == "one"


def test_a_rolled_back_transaction_leaves_no_entries():
    before = AuditLog.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        doc(title="ghost")
        Document.objects.update(body="ghost")
        raise RuntimeError
    assert AuditLog.objects.count() == before


def test_a_failing_update_leaves_no_entry():
    d = doc()
    before = AuditLog.objects.count()
    with pytest.raises(DataError), transaction.atomic():
        Document.objects.filter(pk=d.pk).update(title="x" * 500)  # too long: fails
    assert AuditLog.objects.count() == before


def test_a_redacted_value_appears_nowhere_in_the_audit_table():
    d = doc(secret="hunter2-very-secret")
    d.secret = "correct-horse-battery"
    d.save()
    Document.objects.update(secret="third-secret-value")
    pk = d.pk
    d.hard_delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM prodpatterns_auditlog AS a"
            " WHERE a::text LIKE '%%hunter2%%' OR a::text LIKE '%%correct-horse%%'"
            " OR a::text LIKE '%%third-secret%%'"
        )
        assert cursor.fetchone() == (0,)
    update = AuditLog.objects.filter(action="update", object_pk=str(pk)).first()
    assert update.changes["secret"] == ["[redacted]", "[redacted]"]
    assert AuditLog.objects.filter(snapshot__secret="[redacted]").count() >= 3
