"""manage.py prodpatterns roles / rls check, and --tenant on the soft-delete commands."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from django_prodpatterns.context import tenant_context
from tests.testapp.models import Project

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "app", "setup"])


def out(*argv):
    stdout = StringIO()
    call_command(*argv, stdout=stdout)
    return stdout.getvalue()


def test_roles_prints_three_roles_with_the_right_attributes():
    text = out("prodpatterns", "roles")
    assert 'CREATE ROLE "prodpatterns_app" LOGIN NOSUPERUSER NOBYPASSRLS' in text
    assert 'CREATE ROLE "prodpatterns_admin" LOGIN NOSUPERUSER BYPASSRLS' in text
    assert 'FOR ROLE "prodpatterns_owner"' in text


def test_roles_apply_creates_them(monkeypatch):
    names = ("pp_test_owner", "pp_test_app", "pp_test_cross")
    monkeypatch.setenv("PRODPATTERNS_APP_PASSWORD", "s3cret")
    try:
        out(
            "prodpatterns",
            "roles",
            "--apply",
            "--database",
            "setup",
            "--owner",
            names[0],
            "--app",
            names[1],
            "--cross-tenant",
            names[2],
        )
        with connections["setup"].cursor() as cursor:
            cursor.execute(
                "SELECT rolname, rolsuper, rolbypassrls, rolpassword IS NOT NULL"
                " FROM pg_authid WHERE rolname = ANY(%s) ORDER BY rolname",
                [list(names)],
            )
            rows = cursor.fetchall()
        assert rows == [
            ("pp_test_app", False, False, True),
            ("pp_test_cross", False, True, False),
            ("pp_test_owner", False, False, False),
        ]
    finally:
        with connections["setup"].cursor() as cursor:
            for name in names:
                cursor.execute(f'DROP OWNED BY "{name}"')
                cursor.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_rls_check_passes_then_finds_a_dropped_policy_then_passes_after_migrate(fails):
    assert "matches the models" in out("prodpatterns", "rls", "check")
    with connections["setup"].cursor() as cursor:
        cursor.execute("DROP POLICY testapp_project_tenant_rls ON testapp_project")
        cursor.execute("ALTER TABLE testapp_label NO FORCE ROW LEVEL SECURITY")
        cursor.execute("CREATE POLICY stray ON testapp_label USING (true)")
    status, err = fails("prodpatterns", "rls", "check")
    assert status == 1
    assert "testapp.Project (testapp_project): policy testapp_project_tenant_rls missing" in err
    assert "testapp.Label (testapp_label): row level security is not forced" in err
    assert "testapp_label: unexpected policy stray" in err
    assert err.splitlines()[-1].startswith("CommandError: 3 difference(s)")
    with connections["setup"].cursor() as cursor:
        cursor.execute("DROP POLICY stray ON testapp_label")
    call_command("migrate", "testapp", "0003", verbosity=0)  # unapply the tenancy DDL
    call_command("migrate", verbosity=0)  # and apply it again
    assert "matches the models" in out("prodpatterns", "rls", "check")


def test_soft_delete_commands_take_a_tenant(tenant_pair, fails):
    a, _ = tenant_pair
    status, err = fails("purge_deleted", "--older-than", "1d", "--tenant", "999999")
    assert status == 1
    assert "No prodpatterns.Tenant with pk '999999' (--tenant)" in err
    status, err = fails("purge_deleted", "--older-than", "1d", "--tenant", "abc")
    assert status == 1
    with tenant_context(a):
        Project.objects.using("app").create(name="x", code="x")
    try:
        text = out("purge_deleted", "--older-than", "1d", "--tenant", str(a.pk), "--dry-run")
        assert "Would purge 0 rows" in text
    finally:
        with tenant_context(a):
            Project._base_manager.using("app").all().delete()
