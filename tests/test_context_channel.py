"""The three invariants of the context channel (DESIGN.md section 1), on real PostgreSQL.

Every test here talks through the ``app`` alias: a role that is neither superuser nor table
owner, so the RLS policy on ``testapp_note`` really applies. ``app`` mirrors the test
database outside the test transaction, so each test cleans up through ``transaction=True``.
"""

import asyncio
import threading
from contextlib import nullcontext

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from psycopg import sql as pgsql

from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.db import session, signing
from django_prodpatterns.deletion import savepoint_create
from tests.testapp.models import Note

# Every test runs on the application role directly and, when PgBouncer is installed, again
# through it in transaction pooling mode, where a session-level setting would leak.
ALIASES = ["app", *(["bouncer"] if "bouncer" in settings.DATABASES else [])]
APP = ALIASES[0]
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", *ALIASES])


@pytest.fixture(autouse=True, params=ALIASES)
def alias(request):
    """Point the module's helpers at one alias for the test (module global, on purpose)."""
    global APP
    APP = request.param
    yield APP
    APP = ALIASES[0]


# What the database accepted of the signed context ("" for none).
VERIFIED = {
    "tenant": "SELECT coalesce(prodpatterns_tenant_id(), '')",
    "actor": "SELECT coalesce(prodpatterns_actor_id(), '')",
    "details": "SELECT coalesce(split_part(prodpatterns_verified_context(), chr(31), 3), '')",
}


def setting(name="tenant"):
    with connections[APP].cursor() as cursor:
        cursor.execute(VERIFIED[name])
        return cursor.fetchone()[0]


def backend_pid():
    with connections[APP].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def visible_notes():
    return sorted(Note.objects.using(APP).values_list("body", flat=True))


@pytest.fixture
def notes():
    """Two tenants' rows, written through the policy itself."""
    for tenant, bodies in ((1, ["a1", "a2"]), (2, ["b1"])):
        with tenant_context(tenant):
            for body in bodies:
                Note.objects.using(APP).create(tenant_key=tenant, body=body)


def test_app_role_is_subject_to_row_level_security():
    with connections[APP].cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, pg_has_role(current_user, c.relowner, 'USAGE')"
            " FROM pg_roles, pg_class c WHERE rolname = current_user"
            " AND c.oid = 'testapp_note'::regclass"
        )
        assert cursor.fetchone() == (False, False, False)


def test_autocommit_statements_carry_the_context(notes):
    assert connections[APP].get_autocommit()
    with tenant_context(1):
        assert setting() == "1"
        assert visible_notes() == ["a1", "a2"]
    with tenant_context(2):
        assert visible_notes() == ["b1"]


def test_statements_inside_atomic_carry_the_context(notes):
    with tenant_context(2), transaction.atomic(using=APP):
        assert setting() == "2"
        assert visible_notes() == ["b1"]
        Note.objects.using(APP).create(tenant_key=2, body="b2")
    with tenant_context(2):
        assert visible_notes() == ["b1", "b2"]


def test_nested_savepoints_carry_the_context(notes):
    with transaction.atomic(using=APP), tenant_context(1):  # noqa: SIM117 (nesting is the point)
        with transaction.atomic(using=APP):
            with transaction.atomic(using=APP):
                assert connections[APP].savepoint_ids  # really inside nested savepoints
                assert setting() == "1"
                assert visible_notes() == ["a1", "a2"]


def test_context_holds_after_rollback_to_savepoint(notes):
    with transaction.atomic(using=APP), tenant_context(1):
        with pytest.raises(RuntimeError), transaction.atomic(using=APP):
            Note.objects.using(APP).create(tenant_key=1, body="gone")
            raise RuntimeError  # ROLLBACK TO SAVEPOINT
        assert setting() == "1"
        assert visible_notes() == ["a1", "a2"]


def test_context_entered_inside_a_rolled_back_savepoint_is_sent_again(notes):
    with transaction.atomic(using=APP), tenant_context(1):
        sid = savepoint_create(using=APP)
        with tenant_context(2):
            assert setting() == "2"
        transaction.savepoint_rollback(sid, using=APP)
        assert setting() == "1"


def test_after_exit_the_same_connection_sees_no_tenant(notes, alias):
    with tenant_context(1):
        pid = backend_pid()
        assert visible_notes() == ["a1", "a2"]
    if alias == "app":  # through PgBouncer each transaction may get another server session
        assert backend_pid() == pid  # the same persistent connection
    assert setting() == ""
    assert visible_notes() == []
    with pytest.raises(DatabaseError, match="row-level security"):
        Note.objects.using(APP).create(tenant_key=1, body="no tenant")


def test_after_exit_inside_a_transaction_the_tenant_is_cleared(notes):
    with transaction.atomic(using=APP):
        with tenant_context(1):
            assert visible_notes() == ["a1", "a2"]
        assert setting() == ""
        assert visible_notes() == []


def test_rollback_to_a_savepoint_cannot_bring_back_an_ended_context(notes):
    with transaction.atomic(using=APP):
        with tenant_context(1):
            assert visible_notes() == ["a1", "a2"]  # SET LOCAL ... = '1' in this transaction
            sid = savepoint_create(using=APP)
        assert setting() == ""
        transaction.savepoint_rollback(sid, using=APP)
        assert setting() == ""
        assert visible_notes() == []


def test_actor_and_audit_snapshot_reach_the_database():
    with audit_context(
        actor=type("U", (), {"pk": 9, "__str__": lambda s: "bob"})(),
        reason="100% o'clock; DROP TABLE x",
    ):
        assert setting("actor") == "9"
        snapshot = setting("details")
    assert '"reason":"100% o\'clock; DROP TABLE x"' in snapshot
    assert setting("actor") == ""


def test_values_are_quoted_not_formatted_in():
    hostile = "1'; SET LOCAL prodpatterns.context = '2"
    with tenant_context(hostile):
        assert setting() == hostile
        with connections[APP].cursor() as cursor:  # no parameters: no % formatting
            cursor.execute("SELECT prodpatterns_tenant_id() || '%'")
            assert cursor.fetchone()[0] == hostile + "%"


def test_composed_sql_carries_the_context():
    query = pgsql.SQL("SELECT {}()").format(pgsql.Identifier("prodpatterns_tenant_id"))
    with tenant_context(8), connections[APP].cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchone()[0] == "8"


def test_rowcount_and_results_are_those_of_the_statement(notes):
    with tenant_context(1):
        assert Note.objects.using(APP).filter(body__startswith="a").update(body="z") == 2
        assert Note.objects.using(APP).filter(body="z").delete()[0] == 2


def test_server_side_cursor_in_autocommit_carries_the_context(notes):
    with tenant_context(1):
        bodies = [n.body for n in Note.objects.using(APP).order_by("body").iterator(chunk_size=1)]
    assert bodies == ["a1", "a2"]


def test_server_side_cursor_in_atomic_carries_the_context(notes):
    with tenant_context(2), transaction.atomic(using=APP):
        bodies = [n.body for n in Note.objects.using(APP).iterator(chunk_size=1)]
    assert bodies == ["b1"]


def test_executemany_carries_the_context():
    sql = "INSERT INTO testapp_note (tenant_key, body) VALUES (%s, %s)"
    with tenant_context(3):
        with connections[APP].cursor() as cursor:
            cursor.executemany(sql, [(3, "c1"), (3, "c2")])
        assert visible_notes() == ["c1", "c2"]
        with transaction.atomic(using=APP), connections[APP].cursor() as cursor:
            cursor.executemany(sql, [(3, "c3")])
        assert visible_notes() == ["c1", "c2", "c3"]


def test_statements_that_refuse_transaction_blocks_pass_through():
    with tenant_context(1), connections["default"].cursor() as cursor:
        cursor.execute("CREATE INDEX CONCURRENTLY testapp_note_body_idx ON testapp_note (body)")
        cursor.execute("DROP INDEX CONCURRENTLY testapp_note_body_idx")
        cursor.execute("VACUUM testapp_note")


def test_two_threads_never_see_each_other(notes):
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def worker(tenant, expected):
        try:
            with tenant_context(tenant):
                seen = set()
                for _ in range(20):
                    barrier.wait(timeout=10)
                    seen.add((setting(), tuple(visible_notes())))
                results[tenant] = seen
        except Exception as exc:  # reported below, with the thread's own traceback lost
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t, None)) for t in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {1: {("1", ("a1", "a2"))}, 2: {("2", ("b1",))}}


def test_twenty_asyncio_tasks_never_see_each_other():
    @sync_to_async
    def write(tenant):
        Note.objects.using(APP).create(tenant_key=tenant, body=f"t{tenant}")

    @sync_to_async
    def read():
        return setting(), visible_notes()

    async def task(tenant):
        async with tenant_context(tenant):
            await write(tenant)
            seen = set()
            for _ in range(5):
                await asyncio.sleep(0)
                current, bodies = await read()
                seen.add((current, tuple(bodies)))
            return tenant, seen

    async def main():
        try:
            return await asyncio.gather(*(task(t) for t in range(1, 21)))
        finally:
            await sync_to_async(connections.close_all)()

    for tenant, seen in asyncio.run(main()):
        assert seen == {(str(tenant), (f"t{tenant}",))}


def test_raw_psycopg_access_gets_the_context_through_apply_now():
    raw_sql = "SELECT prodpatterns_tenant_id()"
    with tenant_context(4), transaction.atomic(using=APP):
        connections[APP].ensure_connection()
        raw = connections[APP].connection  # bypasses Django's execute wrappers
        assert raw.execute(raw_sql).fetchone()[0] in ("", None)
        session.apply_now(using=APP)
        assert raw.execute(raw_sql).fetchone()[0] == "4"


def test_apply_now_outside_a_transaction_is_refused():
    with tenant_context(4), pytest.raises(RuntimeError, match="atomic"):
        session.apply_now(using=APP)


def test_channel_survives_a_connection_opened_inside_execute_wrapper():
    connection = connections[APP]
    connection.close()
    if session.apply_context in connection.execute_wrappers:  # as on a brand-new wrapper
        connection.execute_wrappers.remove(session.apply_context)
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        # a fresh session reports NULL; a pooled one that carried it before reports ""
        assert setting() in (None, "")
    assert connection.execute_wrappers == [session.apply_context]
    with tenant_context(6):
        assert setting() == "6"
    assert seen


def spy_on(alias):
    """Record the SQL as sent (our wrapper runs first, so this sees the prefixes)."""
    sent = []

    def spy(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    return sent, connections[alias].execute_wrapper(spy)


def test_inside_atomic_the_settings_travel_once_per_transaction(notes):
    sent, spying = spy_on(APP)
    with spying, tenant_context(1), transaction.atomic(using=APP):
        assert visible_notes() == ["a1", "a2"]
        assert visible_notes() == ["a1", "a2"]
        with tenant_context(2):
            assert visible_notes() == ["b1"]
        assert visible_notes() == ["a1", "a2"]
    # a value new on the connection goes through set_context() (verified, remembered);
    # the database remembers one value, so going back to tenant 1 sends it that way again
    assert [prefix_of(sql) for sql in sent] == ["set_context", None, "set_context", "set_context"]


def prefix_of(sql):
    """How a statement carried the context: set_context(), SET LOCAL, or not at all."""
    if sql.startswith("SELECT prodpatterns_private.set_context("):
        return "set_context"
    return "SET LOCAL" if sql.startswith("SET LOCAL") else None


def test_in_autocommit_a_value_is_verified_once_then_sent_by_set_local(notes):
    """The HMAC runs for the first statement of a context only; the rest send SET LOCAL."""
    sent, spying = spy_on(APP)
    with spying, tenant_context(1):
        for _ in range(3):
            assert visible_notes() == ["a1", "a2"]
    assert [prefix_of(sql) for sql in sent] == ["set_context", "SET LOCAL", "SET LOCAL"]


def test_a_reused_atomic_sends_the_settings_again_in_each_transaction(notes):
    @transaction.atomic(using=APP)  # one Atomic object for every call
    def read():
        return setting(), visible_notes()

    with tenant_context(1):
        assert read() == ("1", ["a1", "a2"])
        assert read() == ("1", ["a1", "a2"])  # a new transaction: nothing is in force
    with tenant_context(2):
        assert read() == ("2", ["b1"])
    assert read() == ("", [])


def test_a_raw_rollback_to_savepoint_makes_the_channel_resend(notes):
    with transaction.atomic(using=APP), connections[APP].cursor() as cursor:
        cursor.execute("SAVEPOINT raw_sp")
        with tenant_context(1):
            assert visible_notes() == ["a1", "a2"]  # SET LOCAL after the savepoint
            cursor.execute("ROLLBACK TO SAVEPOINT raw_sp")  # undoes it behind Django's back
            assert visible_notes() == ["a1", "a2"]


def test_a_value_sent_in_a_rolled_back_transaction_is_sent_again(notes):
    """The database forgets what set_context() remembered in a transaction that rolls back
    (Django rolls back through psycopg, not through a statement the channel sees): the
    value goes through set_context() again, and the statement sees its tenant's rows."""
    sent, spying = spy_on(APP)
    with spying, tenant_context(1):
        with pytest.raises(ZeroDivisionError), transaction.atomic(using=APP):
            assert visible_notes() == ["a1", "a2"]
            1 / 0  # noqa: B018 (the rollback is the point)
        assert visible_notes() == ["a1", "a2"]
        assert visible_notes() == ["a1", "a2"]
    assert [prefix_of(sql) for sql in sent] == ["set_context", "set_context", "SET LOCAL"]


def test_a_value_sent_in_a_committed_transaction_stays_remembered(notes):
    sent, spying = spy_on(APP)
    with spying, tenant_context(1):
        with transaction.atomic(using=APP):
            assert visible_notes() == ["a1", "a2"]
        assert visible_notes() == ["a1", "a2"]
    assert [prefix_of(sql) for sql in sent] == ["set_context", "SET LOCAL"]


def test_a_session_state_opened_in_a_rolled_back_transaction_is_opened_again(notes):
    """A connection binds again after ``migrate`` or a refusal, possibly inside a
    transaction; if that transaction rolls back, so does the state it opened."""
    connection = connections[APP]
    connection.ensure_connection()
    signing.unbind(connection)
    with tenant_context(2):
        with pytest.raises(ZeroDivisionError), transaction.atomic(using=APP):
            assert visible_notes() == ["b1"]  # binds here, inside the transaction
            1 / 0  # noqa: B018
        assert visible_notes() == ["b1"]
        with transaction.atomic(using=APP):
            assert visible_notes() == ["b1"]


def test_a_wiped_session_state_fails_the_transaction_then_recovers(notes):
    """RESET ALL wipes the state: inside a transaction the next statement is refused (the
    transaction cannot be replayed); the connection then opens a new state."""
    with tenant_context(1):
        assert visible_notes() == ["a1", "a2"]
        pooled = signing.binding_of(connections[APP]).pid == 0  # verified in full instead
        refused = pytest.raises(DatabaseError, match="context refused")
        with nullcontext() if pooled else refused, transaction.atomic(using=APP):
            connections[APP].connection.execute("RESET ALL")
            assert visible_notes() == ["a1", "a2"]
        assert visible_notes() == ["a1", "a2"]
