"""A deliberate backfill (issue 15): many rows, one audit entry, for the tables' owner only.

The owner (alias ``default``) writes rows inside ``audit_backfill()`` without per-row
entries and gets one ``backfill`` entry with the counts. The application role (``app``,
also through PgBouncer as ``bouncer``) and the cross-tenant role never can: not through
the Python API, not with a validly signed marker, not with a forged, replayed or
``set_config`` one. Each attack checks the outcome as the owner: every row the attacker
managed to write has its per-row entry.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import uuid
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import DatabaseError, connections, migrations, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from django_prodpatterns.backfill import _marked, audit_backfill
from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.db import signing
from django_prodpatterns.db.audit import AUDIT_FUNCTION
from django_prodpatterns.db.names import BACKFILL_ROWS_SETTING
from django_prodpatterns.db.versioned import in_schema, sql_file
from django_prodpatterns.models import AuditLog
from tests.helpers import APP, BOUNCER, statement_seen
from tests.testapp.models import Document, Ticket

NOT_OWNERS = [APP, "cross_tenant", *BOUNCER]
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "setup", *NOT_OWNERS])

SET_LOCAL = re.compile(r"SET LOCAL prodpatterns\.context = '((?:[^']|'')*)'")
SET_CONTEXT = re.compile(r"prodpatterns_private\.set_context\('((?:[^']|'')*)'\)")


@pytest.fixture(autouse=True)
def fresh_connections():
    """Whatever an attack leaves in its session goes with the connection."""
    yield
    for alias in NOT_OWNERS:
        connections[alias].close()


def titled(prefix: str, n: int) -> list[Document]:
    return [Document(title=f"{prefix} {i}") for i in range(n)]


def backfills() -> list[AuditLog]:
    return list(AuditLog.objects.filter(action="backfill").order_by("id"))


def unaudited(prefix: str) -> set[str]:
    """Pks of documents titled ``prefix ...`` that have no ``create`` entry (as the owner)."""
    pks = {
        str(pk)
        for pk in Document.all_objects.filter(title__startswith=prefix).values_list("pk", flat=True)
    }
    logged = set(
        AuditLog.objects.filter(
            model="testapp.Document", action="create", object_pk__in=pks
        ).values_list("object_pk", flat=True)
    )
    return pks - logged


def written_by_attacker(using: str, *statements: str) -> list[str]:
    """Run ``statements`` as one query string on ``using`` (as an injection would send
    them, behind the channel's own prefix); return PostgreSQL's refusals, if any."""
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("; ".join(statements))
    except DatabaseError as error:
        return [str(error).splitlines()[0]]
    return []


def insert_documents(prefix: str, n: int = 3) -> str:
    return (
        "INSERT INTO testapp_document (title, body, secret, created_at, updated_at)"
        f" SELECT '{prefix} ' || i, '', '', now(), now() FROM generate_series(1, {n}) AS i"
    )


# --- what the owner gets -----------------------------------------------------------------


def test_an_owner_backfill_writes_one_entry_with_the_rows_per_model(tenant_pair):
    """Creates, updates and deletes of two models: one entry, counts per model and action."""
    user = User.objects.create(username=f"migrator-{uuid.uuid4().hex[:6]}")
    tenant = tenant_pair[0]
    before = AuditLog.objects.count()
    with (
        tenant_context(tenant),
        audit_context(actor=user, request_id="deploy-42", ticket="OPS-7"),
        audit_backfill(reason="split names (OPS-7)") as backfill,
    ):
        Document.objects.bulk_create(titled("bf", 500))
        Document.objects.filter(title__startswith="bf").update(body="filled")
        Document.all_objects.filter(title__in=["bf 1", "bf 2"]).hard_delete()
        Ticket.objects.bulk_create([Ticket(subject=f"t{i}") for i in range(300)])
    assert AuditLog.objects.count() == before + 1
    (entry,) = backfills()
    rows = {"testapp.Document": {"create": 500, "update": 500, "delete": 2}}
    rows["testapp.Ticket"] = {"create": 300}
    assert entry.changes == {label: [None, actions] for label, actions in rows.items()}
    assert backfill.rows == rows
    assert backfill.total == 1302
    assert backfill.entry_id == entry.pk
    assert entry.object_pk == backfill.id
    assert (entry.model, entry.reason, entry.snapshot) == (
        "prodpatterns.AuditLog",
        backfill.reason,
        None,
    )
    assert (entry.actor_id, entry.actor_repr) == (str(user.pk), str(user))
    assert (entry.tenant_id, entry.request_id) == (str(tenant.pk), "deploy-42")
    assert entry.extra == {"ticket": "OPS-7"}
    assert Document.objects.filter(title__startswith="bf").count() == 498
    with tenant_context(tenant):  # row level security: the owner sees a tenant's rows only
        assert Ticket.objects.count() == 300


def test_rows_outside_the_block_are_audited_as_usual():
    """Before, after, and around the block in one transaction: entries as always."""
    Document.objects.create(title="out before")
    with transaction.atomic():
        Document.objects.create(title="out around 1")
        with audit_backfill(reason="inside") as backfill:
            Document.objects.bulk_create(titled("in", 20))
        Document.objects.create(title="out around 2")
    Document.objects.create(title="out after")
    assert unaudited("out") == set()
    assert len(unaudited("in")) == 20
    assert backfill.rows == {"testapp.Document": {"create": 20}}
    assert [e.pk for e in backfills()] == [backfill.entry_id]


def test_an_exception_inside_rolls_back_the_rows_and_the_entry():
    with pytest.raises(ZeroDivisionError), audit_backfill(reason="fails"):
        Document.objects.bulk_create(titled("lost", 10))
        1 / 0  # noqa: B018
    assert not Document.all_objects.filter(title__startswith="lost").exists()
    assert backfills() == []


def test_a_block_rolled_back_inside_a_transaction_takes_its_counts_along():
    """In a data migration the block is a savepoint: a rolled-back block leaves no count
    behind for the next one."""
    with transaction.atomic():
        with pytest.raises(ValueError), audit_backfill(reason="first try"):
            Document.objects.bulk_create(titled("try", 7))
            raise ValueError("bad batch")
        with audit_backfill(reason="second try") as backfill:
            Document.objects.bulk_create(titled("again", 3))
    assert backfill.rows == {"testapp.Document": {"create": 3}}
    assert [e.reason for e in backfills()] == ["second try"]
    assert not Document.all_objects.filter(title__startswith="try").exists()


def test_other_connections_that_carry_the_marker_are_logged_row_by_row():
    """The superuser's alias (which passes the role test) and a thread that copied the
    context onto its own connection to the owner's alias: the block is open only in its
    own transaction, so their rows keep their entries, and the block counts its own."""

    def in_a_thread():
        try:
            Document.objects.bulk_create(titled("thread", 2))
        finally:
            connections["default"].close()

    with audit_backfill(reason="own rows only") as backfill:
        Document.objects.bulk_create(titled("own", 3))
        Document.objects.using("setup").bulk_create(titled("superuser", 2))
        thread = threading.Thread(target=contextvars.copy_context().run, args=(in_a_thread,))
        thread.start()
        thread.join()
    assert backfill.rows == {"testapp.Document": {"create": 3}}
    assert len(unaudited("own")) == 3
    assert unaudited("superuser") == unaudited("thread") == set()
    assert Document.objects.filter(title__startswith="thread").count() == 2


def test_a_data_migration_backfills_through_its_schema_editor():
    """``RunPython`` as ``migrate`` runs it: historical models, the migration's transaction."""

    def forwards(apps, schema_editor):
        alias = schema_editor.connection.alias
        historical = apps.get_model("testapp", "Document")
        with audit_backfill(reason="0042_fill_bodies", using=alias):
            historical._base_manager.using(alias).bulk_create(
                historical(title=f"mig {i}") for i in range(40)
            )
            historical._base_manager.using(alias).filter(title__startswith="mig").update(
                body="filled"
            )

    owner = connections["default"]
    state = MigrationExecutor(owner).loader.project_state()
    with owner.schema_editor(atomic=True) as editor:
        migrations.RunPython(forwards).database_forwards("testapp", editor, state, state)
    (entry,) = backfills()
    assert entry.changes == {"testapp.Document": [None, {"create": 40, "update": 40}]}
    assert entry.reason == "0042_fill_bodies"
    assert len(unaudited("mig")) == 40


def test_a_block_that_writes_nothing_still_says_it_ran():
    with audit_backfill(reason="nothing to do") as backfill:
        pass
    (entry,) = backfills()
    assert (entry.changes, backfill.total, entry.actor_id) == (None, 0, None)
    # no actor: the operating-system user, when the process's uid has a name
    assert entry.actor_repr is None or entry.actor_repr.startswith("os user ")


def test_a_reason_is_required_and_blocks_do_not_nest():
    with pytest.raises(ValueError, match="needs a reason"), audit_backfill(reason=" "):
        pass
    with (
        pytest.raises(RuntimeError, match="do not nest"),
        audit_backfill(reason="outer"),
        audit_backfill(reason="inner"),
    ):
        pass
    assert backfills() == []


@pytest.mark.django_db(databases=["default", "sqlite"])
def test_off_postgresql_the_block_is_a_plain_transaction():
    """Nothing is captured there in the first place: no check, no marker to honour, no entry."""
    with audit_backfill(reason="sqlite", using="sqlite") as backfill:
        assert connections["sqlite"].in_atomic_block
    assert (backfill.entry_id, backfill.rows) == (None, {})
    assert backfills() == []


def test_the_trigger_function_is_the_current_version():
    """The app's latest function migration (0012) installed exactly the file AuditTriggers
    creates when none exists."""
    text = in_schema(sql_file(AUDIT_FUNCTION), connections["default"])
    body = text.split("$fn$")[1]
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = 'prodpatterns_audit()'::regprocedure"
        )
        assert cursor.fetchone()[0] == body
    assert AUDIT_FUNCTION == "audit_function_v6.sql"


def test_the_entry_reads_sensibly_in_the_admin_and_prune_audit_treats_it_like_any(
    admin_client, admin_user
):
    with audit_context(actor=admin_user), audit_backfill(reason="import") as backfill:
        Document.objects.bulk_create(titled("adm", 4))
    changelist = reverse("admin:prodpatterns_auditlog_changelist")
    page = admin_client.get(changelist, {"action": "backfill"})
    assert [e.pk for e in page.context["cl"].result_list] == [backfill.entry_id]
    assert '<td class="field-action">backfill</td>' in page.content.decode()
    detail = admin_client.get(
        reverse("admin:prodpatterns_auditlog_change", args=[backfill.entry_id])
    )
    assert detail.status_code == 200
    assert "<td>testapp.Document</td><td>∅</td><td>{&#x27;create&#x27;: 4}</td>" in (
        detail.content.decode()
    )
    call_command("prune_audit", before=timezone.now().isoformat(), stdout=StringIO())
    assert backfills() == []
    assert AuditLog.objects.filter(action="prune").count() == 1


# --- what the application role gets, whatever it tries -----------------------------------


@pytest.mark.parametrize("using", NOT_OWNERS)
def test_the_api_refuses_an_alias_that_is_not_the_owner_in_one_line(using):
    with pytest.raises(ImproperlyConfigured) as refused, audit_backfill(reason="x", using=using):
        Document.objects.using(using).bulk_create(titled("refused", 2))
    message = str(refused.value)
    assert "\n" not in message and "owner alias" in message and repr(using) in message
    assert not Document.all_objects.filter(title__startswith="refused").exists()
    assert backfills() == []


@pytest.mark.parametrize("using", NOT_OWNERS)
def test_a_validly_signed_marker_does_not_stop_capture_for_a_non_owner(using):
    """The application's own key signs the marker (as if the Python check were skipped),
    and the block is opened as audit_backfill() opens it: the database still logs every
    row, and counts none."""
    block = uuid.uuid4().hex
    opened = json.dumps({block: {}})
    with transaction.atomic(using=using), _marked(block, None, "sneaky"):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [BACKFILL_ROWS_SETTING, opened])
        Document.objects.using(using).bulk_create(titled("signed", 5))
        Document.objects.using(using).filter(title__startswith="signed").update(body="x")
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT current_setting(%s, true)", [BACKFILL_ROWS_SETTING])
            assert json.loads(cursor.fetchone()[0]) == {block: {}}
    assert unaudited("signed") == set()
    assert AuditLog.objects.filter(action="update", reason="sneaky").count() == 5


@pytest.mark.parametrize("using", [APP, *BOUNCER])
def test_set_config_and_forged_contexts_do_not_stop_capture(using):
    """What an injection can send: the counts' setting, a made-up marker in a context of
    either layout, plain settings by the names an attacker might guess."""
    details = json.dumps({"backfill": "x", "reason": "forged"})
    forged = [
        "0" * 64 + "q" + "0" * 16 + f"\x1f\x1f{details}",  # any backend: verified in full
        "0" * 64 + "n" + "0" * 15 + "9" + f"\x1f\x1f{details}",  # this session: refused
        details,
    ]
    open_block = f"""SELECT set_config('{BACKFILL_ROWS_SETTING}', '{{"x": {{}}}}', true)"""
    attempts = [
        [open_block],
        [open_block, "SELECT set_config('prodpatterns.backfill', 'x', true)"],
        *(
            [open_block, f"SELECT set_config('prodpatterns.context', '{value}', {local})"]
            for value in forged
            for local in ("true", "false")
        ),
        *([open_block, f"SELECT prodpatterns_private.set_context('{value}')"] for value in forged),
    ]
    for number, attempt in enumerate(attempts):
        with audit_context(reason="the attacker's request"):
            written_by_attacker(using, *attempt, insert_documents(f"forged{number}"))
    assert unaudited("forged") == set()
    assert Document.all_objects.filter(title__startswith="forged").exists()


@pytest.mark.parametrize("using", [APP, *BOUNCER])
def test_a_marker_signed_for_any_backend_replayed_by_the_application_role(using):
    """A backfill context in the pooled layout verifies in every session (a leaked value
    from an owner behind PgBouncer): the role test alone keeps capture on."""
    body = signing.payload("", "", json.dumps({"backfill": "leaked", "reason": "replayed"}))
    value = signing.sign_fresh(body, signing.Binding(pid=0))
    refused = written_by_attacker(
        using,
        f"SELECT set_config('prodpatterns.context', '{value}', true)",
        f"""SELECT set_config('{BACKFILL_ROWS_SETTING}', '{{"leaked": {{}}}}', true)""",
        insert_documents("pooled", 4),
    )
    assert refused == []
    assert unaudited("pooled") == set()
    assert AuditLog.objects.filter(reason="replayed", action="create").count() == 4


def test_the_owners_backfill_context_replayed_by_the_application_role():
    """The owner's statement inside a backfill, with its context, as ``pg_stat_activity``
    shows it to a role that may read it (read here as the superuser: assume it leaked).
    Replayed by the application role as the setting, through set_context(), and both."""
    started, done = threading.Event(), threading.Event()

    def owner_backfill():
        try:
            with audit_backfill(reason="owner at work"), connections["default"].cursor() as c:
                started.set()
                c.execute("SELECT pg_sleep(1.5), 'backfill statement'")
        finally:
            connections["default"].close()
            done.set()

    thread = threading.Thread(target=owner_backfill)
    thread.start()
    started.wait(5)
    seen = statement_seen("setup", "backfill statement")
    thread.join()
    stolen = SET_LOCAL.findall(seen) + SET_CONTEXT.findall(seen)
    assert stolen, seen
    blocks = set()
    for number, value in enumerate(stolen):
        details = json.loads(value.replace("''", "'")[81:].split("\x1f")[2])
        blocks.add(details.get("backfill"))
        opened = json.dumps({details.get("backfill"): {}})  # the attacker opens it too
        open_block = f"SELECT set_config('{BACKFILL_ROWS_SETTING}', '{opened}', true)"
        for replayed in (
            [f"SELECT set_config('prodpatterns.context', '{value}', true)"],
            [f"SELECT prodpatterns_private.set_context('{value}')"],
            [
                f"SELECT prodpatterns_private.set_context('{value}')",
                f"SELECT set_config('prodpatterns.context', '{value}', true)",
            ],
        ):
            written_by_attacker(APP, *replayed, open_block, insert_documents(f"replay{number}"))
    assert blocks == {backfills()[0].object_pk}  # what was stolen was the block's marker
    assert unaudited("replay") == set()
    assert [e.reason for e in backfills()] == ["owner at work"]
