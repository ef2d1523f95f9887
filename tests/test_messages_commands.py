"""Mistakes with the commands and the roles, each answered by one line that says what to do.

- ``migrate`` through a role that does not own the tables, or that may not create them;
- ``soft_delete`` / ``restore_deleted`` / ``purge_deleted`` on a tenant model without a
  tenant, where row-level security hides every row;
- a superuser on the default alias, reported by plain ``manage.py check`` and ``migrate``
  (not only with ``--database``).

Commands run through ``run_from_argv`` (what ``manage.py`` does; the ``fails`` fixture), so
each test sees the real exit status and stderr, and then checks that nothing changed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import load_backend
from django.utils import timezone
from psycopg import sql as pgsql

from django_prodpatterns.context import tenant_context
from django_prodpatterns.devserver import embedded
from tests.composed.models import Invoice
from tests.helpers import APP, CROSS


def run(*argv: str) -> str:
    out = StringIO()
    call_command(*argv, stdout=out)
    return out.getvalue()


def role_of(alias: str) -> str:
    return connections[alias].settings_dict["USER"]


@contextmanager
def extra_alias(name: str, **changes: Any) -> Iterator[None]:
    """One more alias: the default alias's entry with ``changes``, for the block.

    ``override_settings(DATABASES=...)`` does not reach Django's connections, so the
    connection is made here and handed to the connection handler directly, as a
    dynamically created connection (which Django's test cases allow).
    """
    entry = {**connections["default"].settings_dict, **changes}
    connection = load_backend(entry["ENGINE"]).DatabaseWrapper(entry, name)
    setattr(connections._connections, name, connection)
    try:
        yield
    finally:
        connection.close()
        delattr(connections._connections, name)


@contextmanager
def default_entry(**changes: Any) -> Iterator[None]:
    """The default alias's ``DATABASES`` entry changed for the block; the test's own open
    connection is left as it is, and new connections of the alias use the changed entry."""
    entry = connections["default"].settings_dict
    saved = {key: entry[key] for key in changes}
    entry.update(changes)
    try:
        yield
    finally:
        entry.update(saved)


# --- migrate through the wrong role ---------------------------------------------------------


def applied() -> set[tuple[str, str]]:
    return set(MigrationRecorder(connections["default"]).applied_migrations())


@pytest.mark.django_db(databases=["default", APP])
def test_migrate_through_the_application_role_names_the_owner_alias(fails, settings):
    """Before: Django ran the DDL as the application role and stopped with a traceback
    (``must be owner of index lintapp_thing_label_idx``); with nothing to apply it even
    reported success, through a role that can migrate nothing."""
    settings.DATABASE_ROUTERS = []  # so that Django really tries 'app'
    before = applied()
    status, err = fails("migrate", "lintapp", "0001", "--database", APP)
    assert status == 1
    assert err == (
        f"CommandError: Database 'app' connects as {role_of(APP)!r}, which does not own the "
        f"tables (they belong to {role_of('default')!r}): run "
        "`python manage.py migrate --database default`."
    )
    assert applied() == before


@pytest.mark.django_db(databases=["default", APP])
def test_owner_database_naming_the_application_alias_is_one_line(fails, settings):
    """Plain ``migrate`` goes to ``PRODPATTERNS["OWNER_DATABASE"]``; set to the application
    role's alias, it used to succeed with nothing to apply and fail later with a traceback."""
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "OWNER_DATABASE": APP}
    before = applied()
    status, err = fails("migrate")
    assert status == 1
    assert err == (
        f"CommandError: Database 'app' connects as {role_of(APP)!r}, which does not own the "
        f"tables (they belong to {role_of('default')!r}): run "
        "`python manage.py migrate --database default`, and set "
        "PRODPATTERNS['OWNER_DATABASE'] = 'default' so that plain migrate uses it."
    )
    assert applied() == before


@pytest.fixture
def database_of_the_superuser() -> Iterator[str]:
    """A new database that belongs to the superuser, in whose ``public`` schema nobody else
    may create (PostgreSQL 15+ makes it so; older servers are made to match)."""
    server = connections["setup"].settings_dict
    name = f"pp_msg_{uuid.uuid4().hex[:10]}"
    with embedded.connect(server, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        with embedded.connect({**server, "NAME": name}, autocommit=True) as conn:
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        yield name
    finally:
        with embedded.connect(server, autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )


def tables_in(database: str) -> list[str]:
    server = connections["setup"].settings_dict
    with embedded.connect({**server, "NAME": database}) as conn:
        rows = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchall()
    return [name for (name,) in rows]


def superuser_url_hint(entry: dict[str, Any]) -> str:
    from urllib.parse import quote

    host, port = entry["HOST"] or "localhost", entry["PORT"] or "5432"
    if host.startswith("/"):
        return f"postgres://<superuser>@/postgres?host={quote(host, safe='')}&port={port}"
    return f"postgres://<superuser>@{host}:{port}/postgres"


@pytest.mark.django_db(databases=["default", "setup"])
def test_migrate_where_the_owner_may_not_create_says_to_run_setup(
    fails, settings, database_of_the_superuser
):
    """Before: ``MigrationSchemaMissing: Unable to create the django_migrations table
    (permission denied for schema public ...)`` and a traceback."""
    database = database_of_the_superuser
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "OWNER_DATABASE": "fresh"}
    with extra_alias("fresh", NAME=database):
        status, err = fails("migrate")
        entry = connections["fresh"].settings_dict
    owner, superuser = role_of("default"), role_of("setup")
    assert status == 1
    assert err == (
        f"CommandError: Database 'fresh' connects as {owner!r}, which may not create tables in "
        f"schema 'public' of database {database!r} (it belongs to {superuser!r}): run "
        f"`python manage.py prodpatterns setup --superuser-url {superuser_url_hint(entry)}` "
        f"to make {owner!r} its owner."
    )
    assert tables_in(database) == []


@pytest.mark.django_db(databases=["default", "setup"])
def test_migrate_where_it_may_not_create_without_an_owner_alias_says_to_name_one(
    fails, database_of_the_superuser
):
    """``call_command``, because ``--database`` on the command line accepts only the aliases
    of ``DATABASES`` (CommandError is what makes ``manage.py`` exit with status 1)."""
    database = database_of_the_superuser
    with extra_alias("fresh", NAME=database), pytest.raises(CommandError) as raised:
        call_command("migrate", database="fresh", stdout=StringIO())
    entry = {**connections["default"].settings_dict, "NAME": database}
    owner, superuser = role_of("default"), role_of("setup")
    assert str(raised.value) == (
        f"Database 'fresh' connects as {owner!r}, which may not create tables in "
        f"schema 'public' of database {database!r} (it belongs to {superuser!r}): set "
        "PRODPATTERNS['OWNER_DATABASE'] to the alias of the role that should own the tables, "
        "then run `python manage.py prodpatterns setup --superuser-url "
        f"{superuser_url_hint(entry)}`."
    )
    assert tables_in(database) == []


# --- soft-delete commands on a tenant model without a tenant --------------------------------

TENANT_SCOPED = "composed.Invoice is tenant-scoped: row-level security hides its rows on "
PASS_TENANT = "Pass --tenant <pk of prodpatterns.Tenant>"
OR_CROSS = ", or --database cross_tenant (the cross-tenant alias)"

tenant_db = pytest.mark.django_db(transaction=True, databases=["default", APP, CROSS])


def invoices() -> list[tuple[Any, ...]]:
    """Every invoice of every tenant, read through the BYPASSRLS role."""
    return list(
        Invoice._base_manager.using(CROSS)
        .order_by("pk")
        .values_list("pk", "tenant_id", "deleted_at", "deletion_batch")
    )


@pytest.fixture
def invoice(tenant_pair) -> Invoice:
    with tenant_context(tenant_pair[0]):
        return Invoice.objects.using(APP).create(number="1")


def one_line(alias: str, cross: bool = True) -> str:
    return (
        f"CommandError: {TENANT_SCOPED}database {alias!r} when no tenant is set. "
        f"{PASS_TENANT}{OR_CROSS if cross else ''}."
    )


@tenant_db
def test_soft_delete_without_a_tenant_says_to_pass_one(fails, invoice, cross_tenant_alias):
    """Before: ``No composed.Invoice with pk 1.``, for a row that exists."""
    before = invoices()
    status, err = fails(
        "soft_delete", "composed.Invoice", "--pk", str(invoice.pk), "--database", APP
    )
    assert (status, err) == (1, one_line(APP))
    assert invoices() == before
    # what the line says works: --tenant, or the cross-tenant alias
    tenant = str(invoice.tenant_id)
    argv = ["soft_delete", "composed.Invoice", "--pk", str(invoice.pk), "--database", APP]
    assert "Soft-deleted 1 rows" in run(*argv, "--tenant", tenant)
    assert "Restored 1 rows" in run(
        "restore_deleted", "composed.Invoice", "--pk", str(invoice.pk), "--database", CROSS
    )


@tenant_db
def test_without_a_cross_tenant_alias_the_line_says_only_tenant(fails, invoice, settings):
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "ADMIN_DATABASE": None}
    before = invoices()
    status, err = fails(
        "soft_delete", "composed.Invoice", "--pk", str(invoice.pk), "--database", APP
    )
    assert (status, err) == (1, one_line(APP, cross=False))
    assert invoices() == before


@tenant_db
def test_restore_without_a_tenant_says_to_pass_one(fails, invoice, cross_tenant_alias):
    """Before: ``No composed.Invoice with pk 1.``"""
    with tenant_context(invoice.tenant):
        Invoice.objects.using(APP).filter(pk=invoice.pk).delete()
    before = invoices()
    for argv in (["--pk", str(invoice.pk)], ["--all"]):
        status, err = fails("restore_deleted", "composed.Invoice", *argv, "--database", APP)
        assert (status, err) == (1, one_line(APP))
    # the owner alias, subject to row-level security too (FORCE)
    status, err = fails("restore_deleted", "composed.Invoice", "--all")
    assert (status, err) == (1, one_line("default"))
    assert invoices() == before


@tenant_db
def test_purge_without_a_tenant_says_to_pass_one(fails, invoice, cross_tenant_alias):
    """Before: ``Purged 0 rows``, night after night, while deleted invoices piled up."""
    with tenant_context(invoice.tenant):
        Invoice.objects.using(APP).filter(pk=invoice.pk).delete()
        Invoice.all_objects.using(APP).filter(pk=invoice.pk).update(
            deleted_at=timezone.now() - timedelta(days=40)
        )
    before = invoices()
    argv = ["purge_deleted", "--older-than", "30d", "--database", APP]
    status, err = fails(*argv, "--model", "composed.Invoice")
    assert (status, err) == (1, one_line(APP))
    status, err = fails(*argv)  # every soft-delete model, tenant-scoped ones among them
    assert status == 1
    assert err.startswith("CommandError: composed.")
    assert " tenant-scoped: row-level security hides their rows on database 'app' when no " in err
    assert err.endswith(
        f"{PASS_TENANT}{OR_CROSS}, or --model for the models that are not tenant-scoped."
    )
    assert len(err.splitlines()) == 1
    assert invoices() == before
    assert "Purged 1 rows" in run(
        *argv, "--model", "composed.Invoice", "--tenant", str(invoice.tenant_id)
    )


# --- superuser on the default alias: plain check and migrate --------------------------------


def e001_line(role: str) -> str:
    return (
        f"default: (prodpatterns.E001) Database 'default' connects as {role!r}, which is a "
        "superuser: PostgreSQL skips row-level security for it, so every tenant's rows are "
        "visible and writable."
    )


def dead_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(databases=["default", "setup"])
def test_plain_check_reports_a_superuser_on_the_default_alias():
    """Before: only ``check --database default`` said it; plain ``check`` and
    ``runserver`` (no ``--database``) were silent. With no server answering, the check
    neither fails nor waits."""
    superuser = {key: connections["setup"].settings_dict[key] for key in ("USER", "PASSWORD")}
    with default_entry(**superuser), pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert e001_line(superuser["USER"]) in str(raised.value)
    # With --database default, the alias is judged on Django's own connection, as before
    # (here still the owner's, opened before the entry changed), so it is never said twice.
    with default_entry(**superuser):
        call_command("check", "--database", "default", stdout=StringIO())
    started = time.monotonic()
    with default_entry(**superuser, HOST="127.0.0.1", PORT=str(dead_port())):
        call_command("check", stdout=StringIO())  # no SystemCheckError, no traceback
    assert time.monotonic() - started < 10


@pytest.mark.django_db(databases=["default", "setup"])
def test_migrate_through_the_owner_alias_reports_a_superuser_on_the_default_alias(settings):
    """``migrate`` checks the owner alias, which is allowed to own the tables; before, the
    default alias (the one requests use) was never looked at."""
    owner = dict(connections["default"].settings_dict)
    superuser = {key: connections["setup"].settings_dict[key] for key in ("USER", "PASSWORD")}
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "OWNER_DATABASE": "owner"}
    with (
        extra_alias("owner", USER=owner["USER"], PASSWORD=owner["PASSWORD"]),
        default_entry(**superuser),
        pytest.raises(SystemCheckError) as raised,
    ):
        call_command("migrate", "--plan", skip_checks=False, stdout=StringIO())
    assert e001_line(superuser["USER"]) in str(raised.value)
