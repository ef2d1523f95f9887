"""Guarded migrate: a migration blocked by another session's lock times out, reports the
blocking query, is retried, and succeeds once the lock is gone."""

import threading
import time

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db(transaction=True)
REPORT_QUERY = "SELECT count(*) FROM lintapp_thing /* the nightly report */"


def applied(name):
    recorder = MigrationRecorder(connections["default"])
    return ("lintapp", name) in recorder.applied_migrations()


@pytest.fixture
def back_at_0001():
    """lintapp migrated back to 0001, and forward to its end again afterwards."""
    call_command("migrate", "lintapp", "0001", database="default", verbosity=0)
    yield
    call_command("migrate", "lintapp", database="default", verbosity=0)


@pytest.fixture
def long_transaction():
    """Another session that read the table and keeps its transaction open (so it holds
    ACCESS SHARE, which ALTER TABLE must wait for); ``release()`` ends it."""
    params = connections["default"].get_connection_params()
    keep = ("dbname", "user", "password", "host", "port")
    connection = psycopg.connect(
        **{k: v for k, v in params.items() if k in keep}, application_name="nightly-report"
    )
    connection.execute(REPORT_QUERY)
    released = threading.Event()

    def release():
        if not released.is_set():
            released.set()
            connection.rollback()

    yield release
    release()
    connection.close()


def test_a_blocked_migration_times_out_reports_retries_and_succeeds(
    back_at_0001, long_transaction, capsys, monkeypatch
):
    """The report finishes during the second back-off, whatever the machine's load: the
    release is tied to the retries, not to a timer."""
    real_sleep = time.sleep
    backoffs = []

    def sleep_then_maybe_release(delay):
        backoffs.append(delay)
        if len(backoffs) == 2:
            long_transaction()
        real_sleep(delay)

    monkeypatch.setattr(time, "sleep", sleep_then_maybe_release)
    call_command(
        "migrate",
        "lintapp",
        "0002",
        database="default",
        lock_timeout="200ms",
        retries=5,
        retry_backoff=0.2,
        verbosity=0,
    )
    err = capsys.readouterr().err
    assert "lintapp.0002_dangerous waited more than 200ms for a lock (attempt 1 of 6)" in err
    assert "Blocked by:" in err and "(nightly-report)" in err
    assert REPORT_QUERY in err
    assert "Retrying in 0.2 s." in err and "Retrying in 0.4 s." in err
    assert backoffs == [0.2, 0.4]
    assert applied("0002_dangerous")


def test_without_retries_left_it_fails_with_the_report_and_changes_nothing(
    back_at_0001, long_transaction
):
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "migrate", "lintapp", "0002", database="default", lock_timeout=150, verbosity=0
        )
    message = str(excinfo.value)
    assert "attempt 1 of 1" in message and REPORT_QUERY in message
    assert not applied("0002_dangerous")
    with connections["default"].cursor() as cursor:  # rolled back: the column is still there
        cursor.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'lintapp_thing' AND column_name = 'legacy'"
        )
        assert cursor.fetchone() == (1,)
