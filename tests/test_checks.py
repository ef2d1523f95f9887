"""System checks fire on the configurations they exist for, with stable ids."""

import pytest
from django.core.checks import Error, Warning, run_checks
from django.test import override_settings

from django_prodpatterns import checks

pytestmark = pytest.mark.django_db(databases=["default", "app", "setup", "sqlite"])


# The test app's PostDetail.post is a OneToOneField on purpose, so W011 is always there.
EXPECTED = {"prodpatterns.W011"}


def ids(messages):
    """The app's messages that ``manage.py check`` would show: not the expected W011, nor
    what the settings silence (tests/settings_bare.py silences E010, which is about
    testapp.Attachment and tested in test_softdelete_checks.py)."""
    return sorted(
        m.id
        for m in messages
        if m.id.startswith("prodpatterns.") and m.id not in EXPECTED and not m.is_silenced()
    )


def test_setup_alias_is_a_superuser():
    """The premise of the role tests below: ``setup`` really is a superuser."""
    from django.db import connections

    with connections["setup"].cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (True,)


def test_superuser_connection_is_an_error_once_rls_is_in_use():
    # The test database has a table with row-level security (testapp_note).
    messages = run_checks(databases=["setup"])
    errors = [m for m in messages if m.id == "prodpatterns.E001"]
    assert len(errors) == 1
    assert isinstance(errors[0], Error)
    assert "superuser" in errors[0].msg
    assert "NOBYPASSRLS" in errors[0].hint


def test_superuser_connection_is_a_warning_before_tenant_models_exist():
    from django.db import connections, transaction

    # The test database has RLS tables, so the same role is an error there ...
    assert ids(checks.role_messages("setup", relies_on_rls=False)) == ["prodpatterns.E001"]
    # ... and a warning on a database without any (RLS switched off, then rolled back).
    with transaction.atomic(using="setup"), connections["setup"].cursor() as cursor:
        cursor.execute("SELECT oid::regclass::text FROM pg_class WHERE relrowsecurity")
        for (table,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        messages = checks.role_messages("setup", relies_on_rls=False)
        transaction.set_rollback(True, using="setup")
    assert ids(messages) == ["prodpatterns.W002"]
    assert isinstance(messages[0], Warning)


def test_tenant_models_make_it_an_error_even_without_rls_tables():
    messages = checks.role_messages("setup", relies_on_rls=True)
    assert ids(messages) == ["prodpatterns.E001"]


def test_application_role_passes():
    assert ids(run_checks(databases=["app"])) == []


def test_owner_alias_is_not_checked():
    with override_settings(PRODPATTERNS={"OWNER_DATABASE": "setup"}):
        assert "prodpatterns.E001" not in ids(run_checks(databases=["setup"]))


def test_sqlite_database_is_a_warning():
    messages = run_checks(databases=["sqlite"])
    assert ids(messages) == ["prodpatterns.W001"]
    (warning,) = [m for m in messages if m.id == "prodpatterns.W001"]
    assert "SQLite" in warning.msg


def test_plain_check_without_databases_leaves_the_default_connection_alone(
    django_assert_num_queries,
):
    """Plain check looks at the default alias's role (E001) on a connection of its own
    (tests/test_messages_commands.py), never on the alias's connection, here the test's."""
    with django_assert_num_queries(0):
        messages = run_checks()
    assert ids(messages) == []
    assert {m.id for m in messages} >= EXPECTED


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"NOPE": 1}, "['NOPE'] is not a known setting"),
        ({"MIGRATE_RETRIES": -1}, "MIGRATE_RETRIES"),
        ({"SOFT_DELETE_PLAIN_CHILDREN": {"a.B": "maybe"}}, "SOFT_DELETE_PLAIN_CHILDREN"),
        ([1, 2], "must be a dict"),
    ],
)
def test_bad_settings_are_reported(value, fragment):
    with override_settings(PRODPATTERNS=value):
        messages = [m for m in run_checks() if m.id == "prodpatterns.E002"]
    assert len(messages) == 1
    assert fragment in messages[0].msg
