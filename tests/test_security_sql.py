"""Attacks by a hostile tenant with SQL access, run as the application role.

The application role is NOSUPERUSER, NOBYPASSRLS and owns nothing (the ``app`` alias). Each
test does what an SQL injection in one request could do on a persistent connection, then
checks, as the owner, that the audit trail and the other tenant's rows are as they were.
Every attack statement is allowed to fail: what matters is the outcome.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.test.utils import isolate_apps
from psycopg import sql as pgsql

from django_prodpatterns.checks.tenancy import check_references_into_tenants, check_tenant_models
from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.db.constraints import TenantForeignKey
from django_prodpatterns.models import AuditLog
from tests.helpers import APP, BOUNCER, statement_seen
from tests.testapp.models import Document, Project, Task, Ticket
from tests.zoo.models import Payslip

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


def attack(*statements: str) -> list[str]:
    """Run ``statements`` on the application role's connection, each on its own.

    Returns the errors, so a test can also show which step PostgreSQL refused.
    """
    errors = []
    connection = connections[APP]
    for statement in statements:
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        except DatabaseError as exc:
            errors.append(str(exc).splitlines()[0])
    return errors


@pytest.fixture(autouse=True)
def fresh_app_connection():
    """Whatever an attack leaves in its session goes with the connection."""
    yield
    for alias in (APP, *BOUNCER):
        connections[alias].close()


@contextmanager
def temporary_privilege(granted: bool) -> Iterator[None]:
    """``GRANT TEMPORARY`` to the application role for a database whose owner could not
    take it from PUBLIC: the functions must hold on their own."""
    owner = connections["default"]
    app_role = connections[APP].settings_dict["USER"]
    owner.ensure_connection()
    with owner.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = pgsql.Identifier(cursor.fetchone()[0])
    grant = pgsql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
        database, pgsql.Identifier(app_role)
    )
    revoke = pgsql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(
        database, pgsql.Identifier(app_role)
    )
    if granted:
        owner.connection.execute(grant)
    try:
        yield
    finally:
        if granted:
            owner.connection.execute(revoke)


def tenant_setting(tenant) -> str:
    return f"SELECT set_config('prodpatterns.tenant_id', '{tenant.pk}', false)"


@pytest.mark.parametrize("temporary_granted", [False, True])
def test_a_temporary_pg_class_does_not_unlock_the_log(tenant_pair, temporary_granted):
    """A fake pg_class once made the append-only guard take the app role for the owner."""
    victim = tenant_pair[1]
    with tenant_context(victim):
        Ticket.objects.using(APP).create(subject="evidence")
    before = AuditLog.objects.filter(tenant_id=str(victim.pk)).count()
    assert before == 1
    with temporary_privilege(temporary_granted):
        attack(
            "CREATE TEMP TABLE pg_class (oid oid, relowner oid)",
            "INSERT INTO pg_class SELECT 'prodpatterns_auditlog'::regclass,"
            " (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)",
            tenant_setting(victim),
            "DELETE FROM prodpatterns_auditlog",
        )
    assert AuditLog.objects.filter(tenant_id=str(victim.pk)).count() == before


@pytest.mark.parametrize("temporary_granted", [False, True])
def test_a_temporary_log_does_not_swallow_entries(tenant_pair, temporary_granted):
    """A temp table named like the log once caught the entries of later writes."""
    tenant = tenant_pair[0]
    with tenant_context(tenant):
        ticket = Ticket.objects.using(APP).create(subject="before")
    with temporary_privilege(temporary_granted):
        attack(
            "CREATE TEMP TABLE prodpatterns_auditlog"
            " (LIKE public.prodpatterns_auditlog INCLUDING DEFAULTS)"
        )
        with tenant_context(tenant):
            Ticket.objects.using(APP).filter(pk=ticket.pk).update(subject="after")
    actions = list(
        AuditLog.objects.filter(model="testapp.Ticket", object_pk=str(ticket.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update"]


def test_a_temporary_table_cannot_catch_the_next_tenants_rows(tenant_pair):
    """On a persistent connection a temp ``testapp_ticket`` once caught tenant B's next
    write, and tenant A read it back."""
    attacker, victim = tenant_pair
    errors = attack("CREATE TEMP TABLE testapp_ticket (LIKE public.testapp_ticket INCLUDING ALL)")
    assert errors and "permission denied" in errors[0]
    with tenant_context(victim):
        Ticket.objects.using(APP).create(subject="secret of B")
        assert Ticket._base_manager.filter(subject="secret of B").exists()  # the real table
    with tenant_context(attacker), connections[APP].cursor() as cursor:
        cursor.execute("SELECT subject FROM testapp_ticket")
        assert cursor.fetchall() == []


def test_the_application_role_cannot_forge_entries(tenant_pair):
    """Only the capture path writes the log: no INSERT for the application role."""
    victim = tenant_pair[1]
    errors = attack(
        tenant_setting(victim),
        "INSERT INTO prodpatterns_auditlog (timestamp, model, object_pk, action, actor_id,"
        f" tenant_id) VALUES (now(), 'testapp.Ticket', '1', 'delete', 'bob', '{victim.pk}')",
    )
    assert errors and "permission denied" in errors[0]
    assert not AuditLog.objects.filter(actor_id="bob").exists()


def test_the_capture_path_still_writes_as_the_application_role(tenant_pair):
    """Losing INSERT on the log must not lose a single entry."""
    with tenant_context(tenant_pair[0]):
        ticket = Ticket.objects.using(APP).create(subject="kept")
        Ticket.objects.using(APP).filter(pk=ticket.pk).update(subject="changed")
        Ticket.objects.using(APP).filter(pk=ticket.pk).delete()
    actions = AuditLog.objects.filter(model="testapp.Ticket", object_pk=str(ticket.pk))
    assert sorted(actions.values_list("action", flat=True)) == ["create", "delete", "update"]


def test_sequences_do_not_count_other_tenants_rows(tenant_pair):
    """``last_value`` of a tenant table's sequence counts every tenant's inserts."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('testapp_ticket', 'id')")
        (sequence,) = cursor.fetchone()
    errors = attack(f"SELECT last_value FROM {sequence}")
    assert errors and "permission denied" in errors[0]
    with tenant_context(tenant_pair[0]):  # inserting still works: nextval needs USAGE only
        assert Ticket.objects.using(APP).create(subject="numbered").pk


def privilege_warnings() -> list[str]:
    return [
        message.msg
        for message in checks.run_checks(databases=[APP], tags=[checks.Tags.database])
        if message.id == "prodpatterns.W004"
    ]


def test_the_check_reports_privileges_the_application_role_should_not_have():
    """prodpatterns.W004 names each privilege; the role the tests set up has none."""
    assert privilege_warnings() == []
    with temporary_privilege(True):
        warnings = privilege_warnings()
    assert len(warnings) == 1
    assert "temporary tables" in warnings[0]


# --- session state planted by one statement -------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", APP, *BOUNCER])
@pytest.mark.parametrize("using", [APP, *BOUNCER])
def test_a_session_level_tenant_does_not_reach_later_statements(tenant_pair, using):
    """``set_config(..., false)`` outlives its statement; the channel must override it.
    Planted: the raw tenant setting of old, and a context that verifies on this backend
    (copied from B's own request, so also remembered by the database)."""
    victim = tenant_pair[1]
    with tenant_context(victim):
        Ticket.objects.using(using).create(subject="of B")
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT set_config('prodpatterns.context',"
                " current_setting('prodpatterns.context'), false)"
            )
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT set_config('prodpatterns.tenant_id', '{victim.pk}', false)")
    for in_transaction in (False, True):
        with transaction.atomic(using=using) if in_transaction else nullcontext():
            assert not Ticket._base_manager.using(using).exists()
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM testapp_ticket")
                assert cursor.fetchone() == (0,)
            assert not AuditLog.objects.using(using).filter(model="testapp.Ticket").exists()
    with tenant_context(victim):
        Ticket.objects.using(using).all().delete()


def test_a_session_level_actor_does_not_sign_later_writes():
    """An anonymous write after ``set_config('prodpatterns.actor_id', 'bob', false)``."""
    attack("SELECT set_config('prodpatterns.actor_id', 'bob', false)")
    document = Document.objects.using(APP).create(title="anonymous")
    with transaction.atomic(using=APP):
        Document.objects.using(APP).filter(pk=document.pk).update(title="still anonymous")
    actors = AuditLog.objects.filter(model="testapp.Document", object_pk=str(document.pk))
    assert list(actors.values_list("actor_id", flat=True)) == [None, None]


def test_a_string_that_starts_with_savepoint_carries_the_current_tenant(tenant_pair):
    """Transaction control passes through bare, but not a string with more after it."""
    first, second = tenant_pair
    with tenant_context(first):
        Ticket.objects.using(APP).create(subject="of A")
    try:
        with transaction.atomic(using=APP):
            with tenant_context(first):
                assert Ticket.objects.using(APP).count() == 1  # A is in force now
            with tenant_context(second), connections[APP].cursor() as cursor:
                cursor.execute("SAVEPOINT probe; SELECT subject FROM testapp_ticket")
                cursor.nextset()
                assert cursor.fetchall() == []
    finally:
        with tenant_context(first):
            Ticket.objects.using(APP).all().delete()


# --- the context cannot be forged or replayed ---------------------------------------------

SET_LOCAL = re.compile(r"SET LOCAL (prodpatterns\.\w+) = '((?:[^']|'')*)'")
# How the channel sends a value new on its connection (verified once, then remembered).
SET_CONTEXT = re.compile(r"prodpatterns_private\.set_context\('((?:[^']|'')*)'\)")


def injected(*statements: str) -> list[tuple]:
    """One query string, as an injection into a request's statement would send it; the
    rows of its last statement. It runs with the request's own context prefixed."""
    with connections[APP].cursor() as cursor:
        cursor.execute("; ".join(statements))
        for _ in statements[1:]:
            cursor.nextset()
        return cursor.fetchall()


def rows_or_refusal(*statements: str) -> list[tuple]:
    """:func:`injected`, where PostgreSQL refusing the attack reads as "no rows"."""
    try:
        return injected(*statements)
    except DatabaseError:
        return []


def replay(name: str, value: str) -> str:
    return f"SELECT set_config('{name}', '{value}', true)"


@pytest.fixture
def tickets(tenant_pair):
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Ticket.objects.using(APP).create(subject=f"of {tenant.pk}")
    yield tenant_pair
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Ticket.objects.using(APP).all().delete()


@pytest.mark.parametrize("in_transaction", [False, True])
def test_an_injection_cannot_switch_tenants(tickets, in_transaction):
    """``set_config`` of the tenant inside an injected statement used to switch tenants."""
    attacker, victim = tickets
    forged_signature = "0" * 64 + "b" + f"{victim.pk}\x1f\x1f{{}}"
    with (
        tenant_context(attacker),
        transaction.atomic(using=APP) if in_transaction else (nullcontext()),
    ):
        for name, value in (
            ("prodpatterns.tenant_id", str(victim.pk)),
            ("prodpatterns.context", forged_signature),
        ):
            rows = injected(replay(name, value), "SELECT subject FROM testapp_ticket")
            # its own tenant's rows at most (a forged context reads as none: no rows)
            assert set(rows) <= {(f"of {attacker.pk}",)}


def test_a_context_read_from_pg_stat_activity_does_not_work_in_another_session(tickets):
    """The victim's in-flight statement shows its context in ``pg_stat_activity``."""
    attacker, victim = tickets
    started, done = threading.Event(), threading.Event()

    def victim_request():
        try:
            with (
                tenant_context(victim),
                transaction.atomic(using=APP),
                connections[APP].cursor() as cursor,
            ):
                started.set()
                cursor.execute("SELECT pg_sleep(2), 'victim statement'")
        finally:
            connections[APP].close()
            done.set()

    thread = threading.Thread(target=victim_request)
    thread.start()
    started.wait(5)
    seen = statement_seen(APP, "victim statement")
    thread.join()
    assert seen, "the victim's statement was not seen in pg_stat_activity"
    stolen = [value for _, value in SET_LOCAL.findall(seen)] + SET_CONTEXT.findall(seen)
    assert stolen
    remember = "SELECT prodpatterns_private.set_context('{}')".format
    for value in stolen:  # replayed as the setting, through set_context(), and both
        for replayed in (
            [replay("prodpatterns.context", value)],
            [remember(value)],
            [remember(value), replay("prodpatterns.context", value)],
        ):
            with tenant_context(attacker):
                rows = rows_or_refusal(*replayed, "SELECT subject FROM testapp_ticket")
            assert (f"of {victim.pk}",) not in rows


def last_statement_of(pid: int) -> str:
    """What another session of the application role sees of a connection: the text of its
    last statement, kept in ``pg_stat_activity`` while the connection sits idle."""
    reader = connections.create_connection(APP)
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone()[0]
    finally:
        reader.close()


@pytest.mark.parametrize("reset", [None, "RESET ALL"])
def test_a_context_seen_on_a_connection_does_not_work_there_for_a_later_request(tickets, reset):
    """A persistent connection serves one tenant, then another. The first request's
    context, read from ``pg_stat_activity`` while the connection sat idle, was signed for
    this very backend; an injection in a later request on it must still not use it, even
    after wiping the session's settings first."""
    attacker, victim = tickets
    with tenant_context(victim):
        assert injected("SELECT subject FROM testapp_ticket") == [(f"of {victim.pk}",)]
        assert injected("SELECT subject FROM testapp_ticket") == [(f"of {victim.pk}",)]
        pid = injected("SELECT pg_backend_pid()")[0][0]
    seen = last_statement_of(pid)
    stolen = [value for _, value in SET_LOCAL.findall(seen)] + SET_CONTEXT.findall(seen)
    assert stolen, seen
    remember = "SELECT prodpatterns_private.set_context('{}')".format
    for value in stolen:
        for replayed in (
            [replay("prodpatterns.context", value)],
            [remember(value)],
            [remember(value), replay("prodpatterns.context", value)],
        ):
            with tenant_context(attacker):
                assert injected("SELECT pg_backend_pid()") == [(pid,)]
                rows = rows_or_refusal(
                    *([reset] if reset else []), *replayed, "SELECT subject FROM testapp_ticket"
                )
            assert (f"of {victim.pk}",) not in rows


def test_an_injection_cannot_sign_as_another_actor():
    """``set_config('prodpatterns.actor_id', 'bob', true)`` before an UPDATE in a request."""
    document = Document.objects.using(APP).create(title="mine")
    with audit_context(actor=None, reason="alice's request"):
        injected(
            replay("prodpatterns.actor_id", "bob"),
            replay("prodpatterns.context", '{"reason": "forged"}'),
            f"UPDATE testapp_document SET title = 'changed' WHERE id = {document.pk} RETURNING id",
        )
    entry = AuditLog.objects.filter(object_pk=str(document.pk), action="update").get()
    assert entry.actor_id != "bob"
    assert entry.reason != "forged"


def test_the_check_reports_a_database_that_refuses_the_context(settings):
    """prodpatterns.E004: SECRET_KEY changed since the key was written by migrate."""

    def refused():
        return [
            m.msg
            for m in checks.run_checks(databases=[APP], tags=[checks.Tags.database])
            if m.id == "prodpatterns.E004"
        ]

    assert refused() == []
    settings.SECRET_KEY = "another secret key, not the one migrate wrote"
    assert len(refused()) == 1


# --- the verification cache: values verified once, remembered under a secret name --------


def remembered_name() -> str:
    """The setting that remembers verified values (the owner reads its secret parts)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT 'prodpatterns.c'"
            " || pg_sequence_last_value('prodpatterns_private.context_cache_a')"
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "probe",
    [
        "SELECT last_value FROM prodpatterns_private.context_cache_a",
        "SELECT pg_sequence_last_value('prodpatterns_private.context_cache_a')",
        "SELECT inner_key FROM prodpatterns_private.context_key",
        "SELECT prodpatterns_private.verify_context('x')",
        "SELECT prodpatterns_private.refuse_context()",
        "SELECT setval('prodpatterns_private.context_cache_a', 1)",
    ],
)
def test_the_application_role_cannot_learn_the_remembered_values_name(tickets, probe):
    """Knowing the name would let an injection declare any value verified."""
    with tenant_context(tickets[0]):
        try:
            rows = injected(probe)
        except DatabaseError as error:
            assert "permission denied" in str(error)
        else:  # newer PostgreSQL answers NULL where older ones refuse
            assert rows == [(None,)], probe


def test_the_remembered_value_is_invisible_to_setting_listings(tickets):
    attacker = tickets[0]
    with tenant_context(attacker):
        assert len(injected("SELECT subject FROM testapp_ticket")) == 1  # remembered now
        name = remembered_name()
        listed = injected(
            "SELECT name FROM pg_settings UNION ALL SELECT name FROM pg_show_all_settings()"
        )
        assert name not in {row[0] for row in listed}
        # it is there, holding this very request's value: the name is the only secret
        held = injected(f"SELECT current_setting('{name}', true)")
        assert (
            held[0][0]
            and held[0][0] == injected("SELECT current_setting('prodpatterns.context', true)")[0][0]
        )


def test_a_value_remembered_under_an_old_key_stops_counting(tickets, settings):
    """A new key renames the memory: values verified under the old key are verified again."""
    attacker, original = tickets[0], settings.SECRET_KEY
    with tenant_context(attacker):
        assert len(injected("SELECT subject FROM testapp_ticket")) == 1
        old_value = injected("SELECT current_setting('prodpatterns.context', true)")[0][0]
    settings.SECRET_KEY = "a rotated secret key"
    try:
        call_command("migrate", "prodpatterns", verbosity=0)  # writes the new key
        with tenant_context(None):  # no context of the app's: only the replayed one
            rows = rows_or_refusal(
                replay("prodpatterns.context", old_value.replace("'", "''")),
                "SELECT subject FROM testapp_ticket",
            )
        assert rows == []
    finally:
        settings.SECRET_KEY = original
        call_command("migrate", "prodpatterns", verbosity=0)


@pytest.mark.parametrize("reset", ["RESET ALL", "DISCARD ALL"])
def test_a_forgotten_memory_costs_speed_not_isolation(tickets, reset):
    """A RESET (injected) or a pooler's DISCARD ALL wipes the session's verification state:
    the next statement is refused, the connection opens a new state and runs it again
    (autocommit), with the same result; nothing signed before counts any more."""
    attacker, victim = tickets
    with tenant_context(attacker):
        injected("SELECT 1")
        connections[APP].connection.execute(reset)
        assert injected("SELECT subject FROM testapp_ticket") == [(f"of {attacker.pk}",)]
    with tenant_context(victim):
        assert injected("SELECT subject FROM testapp_ticket") == [(f"of {victim.pk}",)]


def test_a_parallel_query_sees_the_verified_tenant(tickets):
    """Workers get the leader's settings and the tenant the leader verified; the memory is
    only ever written by set_context(), a statement of its own (no setting can be written
    during a parallel query)."""
    attacker = tickets[0]
    parallel = [
        f"SELECT set_config('{name}', '{value}', true)"
        for name, value in (
            ("parallel_setup_cost", "0"),
            ("parallel_tuple_cost", "0"),
            ("min_parallel_table_scan_size", "0"),
            ("max_parallel_workers_per_gather", "2"),
            ("enable_indexscan", "off"),
            ("enable_indexonlyscan", "off"),
            ("enable_bitmapscan", "off"),
        )
    ]
    for in_transaction in (False, True):
        with (
            tenant_context(attacker),
            transaction.atomic(using=APP) if in_transaction else nullcontext(),
        ):
            # the first statement of the context: set_context() goes in the same string
            rows = injected(*parallel, "SELECT subject FROM testapp_ticket")
            plan = injected(*parallel, "EXPLAIN SELECT subject FROM testapp_ticket")
        assert "Gather" in "\n".join(line for (line,) in plan)
        assert rows == [(f"of {attacker.pk}",)]


# --- existence oracles: checks name the shapes that have them --------------------------------


def test_a_plain_models_reference_into_a_tenant_model_is_reported(tenant_pair):
    """A foreign key check ignores row level security: the reference accepts another
    tenant's key and refuses an unused one. prodpatterns.W024 names such a field."""
    victim = tenant_pair[1]
    with tenant_context(victim):
        secret = Ticket.objects.using(APP).create(subject="B's").pk
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "CREATE TABLE security_probe (id bigint PRIMARY KEY,"
            " ticket_id bigint REFERENCES testapp_ticket (id))"
        )
        cursor.execute(
            f"GRANT INSERT ON security_probe TO {connections[APP].settings_dict['USER']}"
        )
    try:
        outcomes = [
            attack(f"INSERT INTO security_probe VALUES ({n}, {ticket})")
            for n, ticket in ((1, secret), (2, secret + 10_000))
        ]
        assert outcomes[0] == [] and outcomes[1]  # the oracle this check exists for
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("DROP TABLE security_probe")

    with isolate_apps("tests.testapp"):

        class Probe(models.Model):  # noqa: DJ008
            ticket = models.ForeignKey(Ticket, models.CASCADE)

            class Meta:
                app_label = "testapp"

        class Unchecked(models.Model):  # noqa: DJ008
            ticket = models.ForeignKey(Ticket, models.CASCADE, db_constraint=False)

            class Meta:
                app_label = "testapp"

        config = SimpleNamespace(get_models=lambda: [Probe, Unchecked, Ticket])
        found = check_references_into_tenants([config])
    assert [(m.id, m.obj) for m in found] == [
        ("prodpatterns.W024", Probe._meta.get_field("ticket"))
    ]


@pytest.mark.parametrize(
    ("key", "reported"),
    [
        (lambda: models.CharField(primary_key=True, max_length=20), True),
        (lambda: models.UUIDField(primary_key=True, default=uuid.uuid4), False),
        (lambda: models.BigAutoField(primary_key=True), False),
    ],
    ids=["chosen by the caller", "uuid4 default", "auto field"],
)
def test_a_primary_key_the_caller_chooses_is_reported(key, reported):
    """prodpatterns.W025: W020 looks at unique constraints, not at the primary key."""
    from django_prodpatterns.models import TenantModel

    with isolate_apps("tests.testapp"):

        class Keyed(TenantModel):
            id = key()

            class Meta:
                app_label = "testapp"

        config = SimpleNamespace(get_models=lambda: [Keyed])
        found = [m for m in check_tenant_models([config]) if m.id == "prodpatterns.W025"]
    assert bool(found) is reported


def test_another_tenants_key_and_an_unused_key_fail_alike(tenant_pair):
    """Beside Django's single-column foreign key, the (tenant, key) one made an unused key
    and another tenant's key fail on different constraints once a migration had re-created
    it (trigger order follows names that carry OIDs): an existence oracle."""
    attacker, victim = tenant_pair
    with tenant_context(victim):
        secret = Project.objects.using(APP).create(name="B's", code="b").pk
    composite = next(c for c in Task._meta.constraints if isinstance(c, TenantForeignKey))
    with connections["default"].schema_editor() as editor:  # as a RenameField migration does
        editor.remove_constraint(Task, composite)
        editor.add_constraint(Task, composite)

    def refused_by(project_id):
        with (
            pytest.raises(IntegrityError) as excinfo,
            tenant_context(attacker),
            transaction.atomic(using=APP),
        ):
            Task.objects.using(APP).create(project_id=project_id, title="probe")
            connections[APP].cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
        return re.search(r'constraint "([^"]+)"', str(excinfo.value)).group(1)

    assert refused_by(secret) == refused_by(secret + 10_000) == composite.name
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'testapp_task'::regclass"
            " AND contype = 'f' AND confrelid = 'testapp_project'::regclass"
        )
        assert cursor.fetchone() == (1,)  # the (tenant, key) foreign key alone


def test_a_value_generated_from_a_redacted_field_is_redacted_too(tenant_pair):
    """``yearly = salary * 12`` in clear would give the redacted salary away."""
    with tenant_context(tenant_pair[0]):
        payslip = Payslip.objects.using(APP).create(salary=4321)
        Payslip.objects.using(APP).filter(pk=payslip.pk).update(salary=5000)
        entries = list(
            AuditLog.objects.using(APP)
            .filter(model="menagerie.Payslip", object_pk=str(payslip.pk))
            .order_by("id")
        )
    assert [e.action for e in entries] == ["create", "update"]
    created, updated = entries
    assert (created.snapshot["salary"], created.snapshot["yearly"]) == ("[redacted]",) * 2
    assert updated.changes == {
        "salary": ["[redacted]", "[redacted]"],
        "yearly": ["[redacted]", "[redacted]"],
    }
    assert "4321" not in str(created.snapshot) and "51852" not in str(created.snapshot)


# --- the drift check sees what a hand-made change does -----------------------------------------


@pytest.mark.parametrize(
    ("change", "undo", "reported"),
    [
        (
            "ALTER POLICY testapp_project_tenant_rls ON testapp_project USING"
            " (true OR tenant_id = (SELECT prodpatterns_tenant_id())::bigint)",
            "ALTER POLICY testapp_project_tenant_rls ON testapp_project USING"
            " (tenant_id = (SELECT prodpatterns_tenant_id())::bigint)",
            "testapp.Project (testapp_project): policy testapp_project_tenant_rls USING",
        ),
        (
            "ALTER TABLE testapp_ticket DISABLE TRIGGER testapp_ticket_audit_upd",
            "ALTER TABLE testapp_ticket ENABLE TRIGGER testapp_ticket_audit_upd",
            "audit trigger testapp_ticket_audit_upd is disabled",
        ),
        (
            "ALTER FUNCTION prodpatterns_verified_context() SECURITY INVOKER",
            "ALTER FUNCTION prodpatterns_verified_context() SECURITY DEFINER",
            "function prodpatterns_verified_context() is not SECURITY DEFINER",
        ),
        (
            "ALTER FUNCTION prodpatterns_audit() RESET search_path",
            "ALTER FUNCTION prodpatterns_audit() SET search_path = pg_catalog, pg_temp",
            "function prodpatterns_audit() does not pin search_path",
        ),
    ],
    ids=["policy opened with OR true", "audit trigger disabled", "definer dropped", "path"],
)
def test_the_drift_check_reports_a_hand_made_change(fails, change, undo, reported):
    """``rls check`` compared policies by substring and never looked at triggers."""
    assert "matches the models" in out("prodpatterns", "rls", "check")
    with connections["default"].cursor() as cursor:
        cursor.execute(change)
    try:
        status, err = fails("prodpatterns", "rls", "check")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute(undo)
    assert status == 1
    assert reported in err
    assert "matches the models" in out("prodpatterns", "rls", "check")


def out(*argv: str) -> str:
    stream = StringIO()
    call_command(*argv, stdout=stream)
    return stream.getvalue()


def test_links_between_audited_models_are_audited(tenant_pair):
    """Adding and removing a many-to-many link wrote nothing to the log."""
    from tests.zoo import models as zoo

    tenant = tenant_pair[0]
    actor = SimpleNamespace(pk=77, __str__=lambda self: "alice")
    with tenant_context(tenant), audit_context(actor=actor, reason="linking"):
        aisle = zoo.Aisle.objects.using(APP).create(code="a1", label="aisle")
        shelf = zoo.Shelf.objects.using(APP).create(aisle=aisle, label="shelf")
        badge = zoo.Badge.objects.using(APP).create(name="gold")
        shelf.badges.add(badge)
        shelf.badges.remove(badge)
        entries = list(
            AuditLog.objects.using(APP).filter(model="menagerie.Shelf_badges").order_by("id")
        )
    assert [e.action for e in entries] == ["create", "delete"]
    for entry in entries:
        assert (entry.snapshot["shelf_id"], entry.snapshot["badge_id"]) == (shelf.pk, badge.pk)
        assert (entry.actor_id, entry.tenant_id, entry.reason) == ("77", str(tenant.pk), "linking")
