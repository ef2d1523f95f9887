"""Issue 14: what a hostile tenant learns or breaks through the library's own surfaces.

The tenant is assumed to have SQL access as the application role and ordinary web access;
every test below attacks one surface that way: the audit admin's counts, keyset cursors,
``prune_audit`` run as the application role, and the roles SQL an operator pastes into psql.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connections, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from psycopg import sql as pgsql

from django_prodpatterns.context import tenant_context
from django_prodpatterns.exceptions import InvalidCursor
from django_prodpatterns.models import AuditLog
from django_prodpatterns.pagination import KeysetPaginator
from tests.testapp.models import Entry, Member

CHANGELIST = reverse("admin:prodpatterns_auditlog_changelist")
# The admin reads the log through the application role, as production's default alias does.
THROUGH_THE_APP_ROLE = pytest.mark.django_db(transaction=True, databases=["default", "app"])
AUDIT_READS_AS_APP = override_settings(DATABASE_ROUTERS=["tests.routers.AuditReadsAsApp"])


# --- the audit admin's counts ---------------------------------------------------------------


def add_entries(count: int, tenant: Any | None, *, days_ago: int = 0) -> None:
    """``count`` audit entries of ``tenant`` (None: of no tenant) in one statement, as the
    owner, then ANALYZE, so that ``pg_class.reltuples`` holds the real size of the log."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO prodpatterns_auditlog (timestamp, model, object_pk, action, tenant_id)"
            " SELECT now() - make_interval(days => %s), 'testapp.Ticket', g::text, 'create', %s"
            " FROM generate_series(1, %s) g",
            [days_ago, None if tenant is None else str(tenant.pk), count],
        )
        cursor.execute("ANALYZE prodpatterns_auditlog")


def log_size_estimate() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'prodpatterns_auditlog'::regclass"
        )
        return cursor.fetchone()[0]


def visible_to(tenant: Any | None) -> int:
    """The entries row level security lets the application role see for ``tenant``."""
    with tenant_context(tenant):
        return AuditLog.objects.using("app").count()


def shown_counts(response: Any) -> tuple[str, str]:
    """The two figures a changelist prints: under the list ("9 audit log", after the page
    links) and beside the search box ("9 results")."""
    page = response.content.decode()
    # Django 6.1 writes the paginator as <nav> with attributes after the class and a
    # visually hidden heading; earlier versions as a bare <p>.
    under = re.search(r'<(p|nav) class="paginator"[^>]*>(?P<count>.*?)</\1>', page, re.DOTALL)
    beside = re.search(r'<span class="small quiet">(.*?)\(', page, re.DOTALL)
    assert under and beside, "the changelist shows no count"
    heading = re.compile(r'<h2 [^>]*class="visually-hidden"[^>]*>.*?</h2>', re.DOTALL)
    shown = (heading.sub("", under.group("count")), beside.group(1))
    return tuple(" ".join(strip_tags(text).split()) for text in shown)


def tenant_staff(tenant: Any) -> User:
    """A staff user of ``tenant`` who may view the audit log (and nothing else)."""
    user = User.objects.create_user(f"staff-{tenant.pk}", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    Member.objects.create(user=user, tenant_id=tenant.pk)
    return user


VIEWERS = {
    # a tenant in force (the middleware's, from the staff user's membership) and RLS
    "a tenant's staff": lambda tenants, admin: (tenant_staff(tenants[1]), tenants[1]),
    # RLS without a tenant: the application role shows the entries of no tenant only
    "a superuser through the application role": lambda tenants, admin: (admin, None),
}


@pytest.mark.parametrize("filters", [{}, {"action": "create"}], ids=["unfiltered", "filtered"])
@pytest.mark.parametrize("viewer", VIEWERS)
@THROUGH_THE_APP_ROLE
@AUDIT_READS_AS_APP
def test_the_changelist_counts_only_what_the_viewer_may_see(
    client: Any,
    tenant_pair: Any,
    member_tenant: None,
    admin_user: User,
    viewer: str,
    filters: dict[str, str],
) -> None:
    """The unfiltered changelist used to print ``pg_class.reltuples``, the size of every
    tenant's log together ("1226 audit log" for a tenant with 9 entries): a tenant could
    watch the others' activity grow. A viewer under row level security sees its own count."""
    user, own_tenant = VIEWERS[viewer](tenant_pair, admin_user)
    add_entries(1200, tenant_pair[0])  # another tenant's busy log
    add_entries(9, own_tenant)
    own = visible_to(own_tenant)  # the 9, and whatever the fixtures' writes logged
    assert own < 20 < 1200 < log_size_estimate()  # the figure that must not reach the page
    client.force_login(user)
    response = client.get(CHANGELIST, filters)
    assert response.status_code == 200
    assert response.context["cl"].result_count == own
    assert shown_counts(response) == (f"{own} audit log", f"{own} results")


@THROUGH_THE_APP_ROLE
@AUDIT_READS_AS_APP
def test_a_big_tenant_log_reads_as_at_least_and_every_page_stays_reachable(
    client: Any, tenant_pair: Any, member_tenant: None
) -> None:
    """Above 1000 rows the count stops (an exact count of the tenant's rows would read the
    whole log on every page view) and says so; the pages past it stay reachable."""
    a, b = tenant_pair
    add_entries(1500, a)
    client.force_login(tenant_staff(b))
    add_entries(1100 - visible_to(b), b)  # 22 pages of 50
    first = client.get(CHANGELIST)
    under, beside = shown_counts(first)
    assert under.endswith(" 19 20 1000+ audit log")  # the page links, then the bound
    assert beside == "1000+ results"
    last = client.get(CHANGELIST, {"p": "22"})
    assert last.status_code == 200
    assert len(last.context["cl"].result_list) == 50
    assert shown_counts(last)[0].endswith(" 21 22 1100 audit log")  # exact once reached
    assert {e.tenant_id for e in last.context["cl"].result_list} == {str(b.pk)}


# --- keyset cursors -------------------------------------------------------------------------

HIDDEN_ORDERINGS = [["-published", "title"], ["amount", "-rank"], ["score", "published"]]


@pytest.fixture
def telling_entries() -> list[Entry]:
    """Rows whose hidden columns have long, unmistakable values (and large explicit pks),
    so that finding one of them in a decoded cursor cannot be a coincidence."""
    start = datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    return Entry.objects.bulk_create(
        Entry(
            pk=987_650_000 + i,
            rank=734_500 + i,
            score=None if i % 3 else 561_200 + i,
            title=f"t{i}",
            published=start + timedelta(hours=i, microseconds=i),
            amount=Decimal("8765.43") + i,
        )
        for i in range(7)
    )


def cursor_bytes(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def hidden_values(entry: Entry) -> list[str]:
    """How the values of a row's hidden columns would read in a cursor in clear (the page
    shows titles only)."""
    return [
        str(entry.pk),
        str(entry.rank),
        entry.published.isoformat(),
        entry.published.isoformat()[:19],
        str(entry.amount),
        *([] if entry.score is None else [str(entry.score)]),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", HIDDEN_ORDERINGS, ids=",".join)
def test_a_cursor_tells_nothing_the_page_did_not_show(
    telling_entries: list[Entry], ordering: list[str]
) -> None:
    """A cursor rides in URLs and API bodies: it named the ordering's columns in clear
    (``["-published,title,id", "f", false, [...]]``) and carried the boundary row's values,
    which the page need not show. Both are sealed now; the cursor still walks."""
    paginator = KeysetPaginator(Entry.objects.order_by(*ordering), per_page=3)
    first = paginator.page()
    second = paginator.page(first.next_cursor)
    assert second.object_list and second.previous_cursor
    boundary = {
        first.next_cursor: first.object_list[-1],
        second.previous_cursor: second.object_list[0],
    }
    for cursor, row in boundary.items():
        raw = cursor_bytes(cursor)
        for name in (item.lstrip("-") for item in ordering):
            assert name.encode() not in raw
        for value in hidden_values(row):
            assert value.encode() not in raw
    assert [e.pk for e in paginator.page(second.previous_cursor)] == [e.pk for e in first]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        (["rank"], ["-rank"]),
        (["rank"], ["score"]),  # same types, same number of keys: only the names differ
        (["-published", "title"], ["published", "title"]),
    ],
    ids=lambda ordering: ",".join(ordering),
)
def test_a_cursor_of_one_ordering_is_refused_by_another(
    telling_entries: list[Entry], made_for: list[str], used_with: list[str]
) -> None:
    """Without the names in it, the ordering is bound into the seal: a cursor replayed
    against another ordering would start the walk at a wrong place, so it is a 400."""
    cursor = KeysetPaginator(Entry.objects.order_by(*made_for), per_page=2).page().next_cursor
    with pytest.raises(InvalidCursor):
        KeysetPaginator(Entry.objects.order_by(*used_with), per_page=2).page(cursor)


@pytest.mark.django_db
def test_cursors_outlive_a_key_rotation_through_the_fallback_keys(
    telling_entries: list[Entry], settings: Any
) -> None:
    """Sealing replaced Django's Signer, which honoured ``SECRET_KEY_FALLBACKS``: a cursor
    handed out before a rotation still opens, and none opens once its key is gone."""

    def paginator() -> KeysetPaginator:  # one per request, as views make them
        return KeysetPaginator(Entry.objects.order_by("rank"), per_page=2)

    cursor = paginator().page().next_cursor
    expected = [e.pk for e in paginator().page(cursor)]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + settings.SECRET_KEY
    assert [e.pk for e in paginator().page(cursor)] == expected
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(InvalidCursor):
        paginator().page(cursor)


# --- prune_audit as the application role ---------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "app"])
@pytest.mark.parametrize("extra", [[], ["--dry-run"]], ids=["prune", "dry-run"])
def test_prune_audit_as_the_application_role_says_what_to_do_and_deletes_nothing(
    fails: Any, extra: list[str]
) -> None:
    """The append-only trigger refuses the application role, which ended in a traceback
    (and a dry run counted only what row level security let it see). One line now, which
    says which role must run it."""
    add_entries(5, None, days_ago=400)
    before = sorted(AuditLog.objects.values_list("id", flat=True))
    cutoff = (timezone.now() - timedelta(days=30)).date().isoformat()
    status, err = fails("prune_audit", "--before", cutoff, "--database", "app", *extra)
    assert status == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("CommandError: prune_audit must run as the owner of the audit log")
    assert "OWNER_DATABASE" in err
    assert sorted(AuditLog.objects.values_list("id", flat=True)) == before


# --- the roles SQL an operator pastes into psql --------------------------------------------

ROLE_NAMES = {"--owner": "pp_sec_owner", "--app": "pp_sec_app", "--cross-tenant": "pp_sec_cross"}
QUOTE = 'x"; DROP TABLE pp_victim; --'
NEWLINE = "pp_x\nDROP TABLE pp_victim; --"
OPTIONS = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"


@pytest.mark.django_db(transaction=True, databases=["default", "setup"])
@pytest.mark.parametrize(
    ("option", "hostile", "expected"),
    [
        ("--app", QUOTE, f'CREATE ROLE "x""; DROP TABLE pp_victim; --" {OPTIONS};'),
        (
            "--cross-tenant",
            QUOTE,
            'CREATE ROLE "x""; DROP TABLE pp_victim; --"'
            " LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE NOCREATEDB;",
        ),
        ("--owner", NEWLINE, f'CREATE ROLE "pp_x\nDROP TABLE pp_victim; --" {OPTIONS};'),
        ("--schema", NEWLINE, 'GRANT USAGE ON SCHEMA "pp_x\nDROP TABLE pp_victim; --"'),
    ],
    ids=["app quote", "cross-tenant quote", "owner newline", "schema newline"],
)
def test_the_printed_roles_sql_quotes_hostile_names(
    monkeypatch: Any, option: str, hostile: str, expected: str
) -> None:
    """``roles`` printed names through Django's ``quote_name``, which leaves an embedded
    double quote alone, and names in comments as they were, so a name could end its
    statement or its comment line and add its own. Run as psql would, the printed script
    creates the roles it names and drops nothing."""
    for kind in ("OWNER", "APP", "CROSS_TENANT"):
        monkeypatch.delenv(f"PRODPATTERNS_{kind}_PASSWORD", raising=False)
    argv = [part for pair in {**ROLE_NAMES, option: hostile}.items() for part in pair]
    stdout = StringIO()
    call_command("prodpatterns", "roles", *argv, stdout=stdout)
    script = stdout.getvalue()
    assert expected in script
    roles = {**ROLE_NAMES, option: hostile}
    names = [roles[flag] for flag in ROLE_NAMES]
    with transaction.atomic(using="setup"), connections["setup"].cursor() as cursor:
        cursor.execute("CREATE TABLE pp_victim ()")
        if option == "--schema":
            cursor.execute(pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(hostile)))
        cursor.execute(script)
        cursor.execute("SELECT to_regclass('pp_victim') IS NOT NULL")
        survived = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", [names])
        created = cursor.fetchone()[0]
        transaction.set_rollback(True, using="setup")
    assert survived
    assert created == 3
