"""The log cannot be edited by the application, is tenant-scoped, and prunes audibly."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import AuditLog
from tests.helpers import APP
from tests.testapp.models import Document, Ticket

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE prodpatterns_auditlog SET reason = 'forged'",
        "DELETE FROM prodpatterns_auditlog",
        "TRUNCATE prodpatterns_auditlog",
    ],
)
def test_the_application_role_cannot_change_the_log(statement):
    Document.objects.using(APP).create(title="evidence")
    before = list(AuditLog.objects.values_list("id", "reason"))
    assert before
    with (
        pytest.raises(DatabaseError, match=r"append-only|permission denied"),
        transaction.atomic(using=APP),
        connections[APP].cursor() as cursor,
    ):
        cursor.execute(statement)
    assert list(AuditLog.objects.values_list("id", "reason")) == before


def test_a_tenant_sees_only_its_own_entries(tenant_pair):
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Ticket.objects.using(APP).create(subject=f"ticket of {tenant.pk}")
    try:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                entries = list(AuditLog.objects.using(APP).filter(model="testapp.Ticket"))
                assert [e.snapshot["subject"] for e in entries] == [f"ticket of {tenant.pk}"]
                assert {e.tenant_id for e in entries} == {str(tenant.pk)}
        assert not AuditLog.objects.using(APP).filter(model="testapp.Ticket").exists()
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Ticket.objects.using(APP).all().delete()


def test_prune_runs_as_the_owner_and_leaves_an_entry():
    Document.objects.create(title="old")
    # the owner (default alias) is the one role the append-only trigger lets rewrite
    AuditLog.objects.update(timestamp=timezone.now() - timedelta(days=400))
    Document.objects.create(title="recent")
    out = StringIO()
    call_command(
        "prune_audit",
        "--before",
        (timezone.now() - timedelta(days=30)).date().isoformat(),
        "--reason",
        "retention policy",
        stdout=out,
    )
    assert "Pruned 1 audit entries" in out.getvalue()
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "prune"]
    prune = AuditLog.objects.get(action="prune")
    assert prune.changes["deleted"] == 1
    assert prune.reason == "retention policy"


def test_prune_refuses_a_future_date_and_dry_run_changes_nothing():
    from django.core.management.base import CommandError

    Document.objects.create(title="keep")
    with pytest.raises(CommandError, match="future"):
        call_command("prune_audit", "--before", "2999-01-01")
    out = StringIO()
    call_command("prune_audit", "--before", timezone.now().isoformat(), "--dry-run", stdout=out)
    assert "Would prune 1 audit entries" in out.getvalue()
    assert AuditLog.objects.count() == 1


def test_an_entry_of_a_model_that_is_gone_reads_as_no_fields_and_cannot_be_reverted():
    """The log outlives models: an entry whose model was deleted from the project keeps
    its raw snapshot, gives no field values (instead of failing on the missing model) and
    refuses a revert with a clear error."""
    entry = AuditLog(pk=1, model="gone.Invoice", object_pk="7", action="update", snapshot={"id": 7})
    assert entry.model_class() is None
    assert entry.field_values() == {}
    assert entry.snapshot == {"id": 7}
    with pytest.raises(ValueError, match="no snapshot of a known model"):
        entry.revert()
