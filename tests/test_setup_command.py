"""``prodpatterns setup`` and ``prodpatterns roles``, on a real server.

Each test makes roles and a database of its own (a uuid suffix) through the superuser URL
of this run's server: ``DATABASE_URL`` when it is set, the embedded server's superuser
otherwise. The project under test exists only as ``DATABASES`` / ``PRODPATTERNS`` given
with ``override_settings``; its roles and database are dropped at teardown.

No test here is marked ``django_db``: pytest-django then refuses any use of Django's own
connections, so "does not connect" is also checked by the suite itself.
"""

from __future__ import annotations

import socket
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from psycopg import sql as pgsql

from django_prodpatterns.ops.roles import APP_ROLE, privileges_snapshot
from django_prodpatterns.ops.setup import role_names
from tests.helpers import superuser_url

ENGINE = "django.db.backends.postgresql"


def server_address() -> dict[str, str]:
    """HOST and PORT of this run's server, for the ``DATABASES`` under test."""
    params = psycopg.conninfo.conninfo_to_dict(superuser_url())
    return {"HOST": str(params.get("host", "")), "PORT": str(params.get("port", ""))}


def dead_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(dbname: str = "postgres", **params: Any) -> psycopg.Connection:
    return psycopg.connect(superuser_url(), dbname=dbname, autocommit=True, **params)


@dataclass
class Project:
    """A project's names: three roles and a database, unique to one test."""

    app: str
    owner: str
    cross: str
    database: str
    passwords: dict[str, str]

    def databases(self, **address: str) -> dict[str, dict[str, Any]]:
        base = {"ENGINE": ENGINE, "NAME": self.database, **(address or server_address())}
        return {
            "default": {**base, "USER": self.app, "PASSWORD": self.passwords["app"]},
            "owner": {**base, "USER": self.owner, "PASSWORD": self.passwords["owner"]},
            "cross": {**base, "USER": self.cross, "PASSWORD": self.passwords["cross"]},
        }

    @contextmanager
    def configured(
        self, databases: dict[str, Any] | None = None, **prodpatterns: Any
    ) -> Iterator[None]:
        """``DATABASES`` and ``PRODPATTERNS`` of this project, for the block's duration."""
        prodpatterns = {
            **settings.PRODPATTERNS,
            "OWNER_DATABASE": "owner",
            "ADMIN_DATABASE": "cross",
            **prodpatterns,
        }
        with warnings.catch_warnings():
            # Django warns that overriding DATABASES does not reconfigure its connections:
            # these commands read the setting and open no Django connection.
            warnings.simplefilter("ignore", UserWarning)
            with override_settings(
                DATABASES=databases or self.databases(), PRODPATTERNS=prodpatterns
            ):
                yield

    @property
    def roles(self) -> list[str]:
        return [self.app, self.owner, self.cross]


def run(*argv: str) -> str:
    stdout = StringIO()
    call_command("prodpatterns", *argv, stdout=stdout)
    return stdout.getvalue()


def drop(project: Project) -> None:
    with connect() as conn:
        conn.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                pgsql.Identifier(project.database)
            )
        )
        for name in project.roles:
            conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(name)))


def make_project(**names: str) -> Project:
    uid = uuid.uuid4().hex[:10]
    defaults = {
        "app": f"pp_setup_app_{uid}",
        "owner": f"pp_setup_owner_{uid}",
        "cross": f"pp_setup_cross_{uid}",
        "database": f"pp_setup_db_{uid}",
    }
    passwords = {kind: f"{kind}-{uid}" for kind in ("app", "owner", "cross")}
    return Project(**{**defaults, **names}, passwords=passwords)


@pytest.fixture
def project() -> Iterator[Project]:
    made = make_project()
    yield made
    drop(made)


def role_rows(names: list[str]) -> list[tuple[Any, ...]]:
    with connect() as conn:
        return conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
            " FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
            [names],
        ).fetchall()


def database_owner(name: str) -> str | None:
    with connect() as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    return row[0] if row else None


def state(project: Project) -> tuple[Any, ...]:
    """Everything setup may write: role attributes and password verifiers, the database's
    owner, and the privileges in its public schema."""
    with connect() as conn:
        authid = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,"
            " rolpassword FROM pg_authid WHERE rolname = ANY(%s) ORDER BY rolname",
            [project.roles],
        ).fetchall()
    with connect(project.database) as conn:
        privileges = privileges_snapshot(conn)
    return authid, database_owner(project.database), privileges


# --- roles: SQL from DATABASES, no connection ------------------------------------------------


def test_roles_prints_the_configured_users_without_connecting(project: Project) -> None:
    """Before: ``roles`` logged in through the default alias (here a port where nothing
    listens, and a Django connection pytest-django forbids) before printing anything, and
    named the built-in defaults instead of the project's USERs."""
    address = {"HOST": "127.0.0.1", "PORT": str(dead_port())}
    with project.configured(project.databases(**address)):
        text = run("roles")
    assert f'CREATE ROLE "{project.app}" LOGIN NOSUPERUSER NOBYPASSRLS' in text
    assert f'CREATE ROLE "{project.owner}" LOGIN NOSUPERUSER NOBYPASSRLS' in text
    assert f'CREATE ROLE "{project.cross}" LOGIN NOSUPERUSER BYPASSRLS' in text
    assert f'GRANT USAGE ON SCHEMA "public" TO "{project.app}"' in text
    assert f'FOR ROLE "{project.owner}"' in text
    for default in ("prodpatterns_app", "prodpatterns_owner", "prodpatterns_admin"):
        assert default not in text  # no built-in default name left


@pytest.mark.parametrize(
    ("databases", "prodpatterns", "expected"),
    [
        (
            {"default": {"USER": "web"}, "migrator": {"USER": "ddl"}, "staff": {"USER": "ops"}},
            {"OWNER_DATABASE": "migrator", "ADMIN_DATABASE": "staff"},
            {"application": "web", "owner": "ddl", "cross-tenant": "ops"},
        ),
        (
            {"default": {"USER": "web"}, "migrator": {}},
            {"OWNER_DATABASE": "migrator"},
            {
                "application": "web",
                "owner": "prodpatterns_owner",
                "cross-tenant": "prodpatterns_admin",
            },
        ),
        (
            # Without OWNER_DATABASE the default alias owns the tables (conf.DEFAULTS).
            {"default": {"USER": "ddl"}},
            {},
            {
                "application": "prodpatterns_app",
                "owner": "ddl",
                "cross-tenant": "prodpatterns_admin",
            },
        ),
        (
            {"default": {}},
            {},
            {
                "application": "prodpatterns_app",
                "owner": "prodpatterns_owner",
                "cross-tenant": "prodpatterns_admin",
            },
        ),
    ],
    ids=["all configured", "owner without USER", "no OWNER_DATABASE", "nothing configured"],
)
def test_role_names_come_from_databases_and_fall_back_when_unset(
    databases: dict[str, Any], prodpatterns: dict[str, Any], expected: dict[str, str]
) -> None:
    assert role_names(databases, prodpatterns) == expected


# --- setup ------------------------------------------------------------------------------------


def test_setup_creates_the_roles_and_the_database_owned_by_the_owner(project: Project) -> None:
    with project.configured():
        text = run("setup", "--superuser-url", superuser_url())
    assert f"created the application role {project.app}" in text
    assert f"created database {project.database} owned by {project.owner}" in text
    assert role_rows(project.roles) == sorted(
        [
            (project.app, True, False, False, False, False),
            (project.owner, True, False, False, False, False),
            (project.cross, True, False, False, False, True),
        ]
    )
    assert database_owner(project.database) == project.owner
    address = server_address()
    params = {"host": address["HOST"], "port": address["PORT"], "dbname": project.database}
    # The owner can create in public (the first migrate's "permission denied for schema
    # public" on PostgreSQL 15+), and what it creates is the application role's to use.
    with psycopg.connect(
        user=project.owner, password=project.passwords["owner"], autocommit=True, **params
    ) as owner:
        owner.execute("CREATE TABLE public.pp_invoice (id bigserial PRIMARY KEY, total int)")
    with psycopg.connect(
        user=project.app, password=project.passwords["app"], autocommit=True, **params
    ) as app:
        assert app.execute("SELECT current_user").fetchone()[0] == project.app
        app.execute("INSERT INTO public.pp_invoice (total) VALUES (1)")
        assert app.execute("SELECT count(*) FROM public.pp_invoice").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("CREATE TABLE public.pp_intruder ()")


def test_a_second_setup_changes_nothing_and_says_so(project: Project) -> None:
    url = superuser_url()
    with project.configured():
        run("setup", "--superuser-url", url)
        with connect(project.database) as conn:  # what migrate does: the owner makes tables
            conn.execute(pgsql.SQL("SET ROLE {}").format(pgsql.Identifier(project.owner)))
            conn.execute("CREATE TABLE public.pp_order (id bigserial PRIMARY KEY)")
        before = state(project)
        text = run("setup", "--superuser-url", url)
    assert text.splitlines() == [
        f"Nothing to change: roles {project.app}, {project.owner}, {project.cross}, database "
        f"{project.database} owned by {project.owner}, and the grants already match."
    ]
    assert state(project) == before


def test_setup_hands_an_existing_database_and_roles_back_to_the_configuration(
    project: Project,
) -> None:
    with connect() as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(project.database)))
        conn.execute(
            pgsql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'old'").format(
                pgsql.Identifier(project.app)
            )
        )
    with project.configured():
        text = run("setup", "--superuser-url", superuser_url())
    assert f"set NOCREATEROLE PASSWORD on the application role {project.app}" in text
    assert f"handed database {project.database} from" in text
    assert database_owner(project.database) == project.owner
    assert role_rows([project.app]) == [(project.app, True, False, False, False, False)]


def test_print_shows_the_sql_and_connects_nowhere(project: Project) -> None:
    address = {"HOST": "127.0.0.1", "PORT": str(dead_port())}
    url = f"postgres://postgres@127.0.0.1:{address['PORT']}/postgres"
    with project.configured(project.databases(**address)):
        text = run("setup", "--superuser-url", url, "--print")
    password = project.passwords["app"]
    assert f'CREATE ROLE "{project.app}" LOGIN NOSUPERUSER NOBYPASSRLS' in text
    assert f"PASSWORD '{password}';" in text
    assert f'CREATE DATABASE "{project.database}" OWNER "{project.owner}";' in text
    assert f'\\connect "{project.database}"' in text
    assert f'FOR ROLE "{project.owner}" IN SCHEMA "public"' in text
    assert role_rows(project.roles) == []
    assert database_owner(project.database) is None


@pytest.mark.parametrize(("flags", "createdb"), [((), False), (("--for-tests",), True)])
def test_for_tests_lets_the_owner_create_databases(
    project: Project, flags: tuple[str, ...], createdb: bool
) -> None:
    with project.configured():
        run("setup", "--superuser-url", superuser_url(), *flags)
    assert role_rows([project.owner])[0][4] is createdb
    test_database = pgsql.Identifier(f"test_{project.database}")
    with connect() as conn:
        conn.execute(pgsql.SQL("SET ROLE {}").format(pgsql.Identifier(project.owner)))
        if not createdb:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(pgsql.SQL("CREATE DATABASE {}").format(test_database))
            return
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(test_database))
        conn.execute(pgsql.SQL("DROP DATABASE {}").format(test_database))


# --- bad input: one line, exit 1, nothing created ---------------------------------------------

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no url", "CommandError: setup needs --superuser-url: a superuser's connection URL"),
        ("unreachable", "CommandError: Cannot connect to 127.0.0.1:"),
        (
            "not a superuser",
            f"CommandError: The role '{APP_ROLE.name}' of --superuser-url is not a superuser",
        ),
        ("sqlite", "CommandError: DATABASES['default'] uses ENGINE 'django.db.backends.sqlite3'"),
        ("no OWNER_DATABASE", "CommandError: setup needs PRODPATTERNS['OWNER_DATABASE']"),
        ("typo in PRODPATTERNS", "CommandError: PRODPATTERNS['OWNER_DATABSE'] is not a known"),
        ("one user twice", "CommandError: DATABASES['default'] and DATABASES['owner'] both"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    project: Project, fails: Any, case: str, message: str
) -> None:
    url = superuser_url()
    databases, prodpatterns = project.databases(), {}
    if case == "unreachable":
        url = f"postgres://postgres@127.0.0.1:{dead_port()}/postgres"
    elif case == "not a superuser":
        params = psycopg.conninfo.conninfo_to_dict(url)
        url = psycopg.conninfo.make_conninfo(
            url, user=APP_ROLE.name, password=APP_ROLE.password, dbname=params.get("dbname")
        )
    elif case == "sqlite":
        databases["default"] = SQLITE
    elif case == "no OWNER_DATABASE":
        prodpatterns["OWNER_DATABASE"] = None
    elif case == "typo in PRODPATTERNS":
        prodpatterns["OWNER_DATABSE"] = "owner"
    elif case == "one user twice":
        databases["owner"]["USER"] = project.app
    argv = ["prodpatterns", "setup"] + ([] if case == "no url" else ["--superuser-url", url])
    with project.configured(databases, **prodpatterns):
        status, err = fails(*argv)
    assert status == 1
    assert len(err.splitlines()) == 1, err
    assert err.startswith(message)
    assert role_rows(project.roles) == []
    assert database_owner(project.database) is None


# --- hostile names ---------------------------------------------------------------------------


@pytest.fixture
def hostile() -> Iterator[tuple[Project, str]]:
    uid = uuid.uuid4().hex[:8]
    victim = f"pp_victim_{uid}"
    made = make_project(app=f'pp_a{uid}"; DROP ROLE "{victim}"; --')
    made.passwords["app"] = f"it's'; DROP ROLE \"{victim}\"; --"
    with connect() as conn:
        conn.execute(pgsql.SQL("CREATE ROLE {}").format(pgsql.Identifier(victim)))
    yield made, victim
    drop(made)
    with connect() as conn:
        conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(victim)))


def test_a_hostile_role_name_is_created_verbatim_and_nothing_else(
    hostile: tuple[Project, str],
) -> None:
    project, victim = hostile
    with project.configured():
        run("setup", "--superuser-url", superuser_url())
        again = run("setup", "--superuser-url", superuser_url())
    assert again.startswith("Nothing to change")  # the password verifier matched too
    assert [row[0] for row in role_rows([*project.roles, victim])] == sorted(
        [*project.roles, victim]
    )
    with connect() as conn:
        uid = project.database.rsplit("_", 1)[-1]
        stray = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s AND NOT rolname = ANY(%s)",
            [f"%{uid}%", project.roles],
        ).fetchall()
    assert stray == []
    with connect(project.database) as conn:
        granted = conn.execute(
            "SELECT has_schema_privilege(%s, 'public', 'USAGE')", [project.app]
        ).fetchone()[0]
    assert granted


def role_config(name: str) -> list[str]:
    with connect() as conn:
        row = conn.execute("SELECT rolconfig FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    return list(row[0] or []) if row else []


def test_citus_mode_lets_every_role_forward_set_local(project: Project) -> None:
    """Citus forwards a transaction's SET LOCAL (the signed context) to the workers only
    for roles set so; setup sets it once, and says so, in Citus mode only."""
    url = superuser_url()
    with project.configured():
        run("setup", "--superuser-url", url)
    assert all(role_config(name) == [] for name in project.roles)
    with project.configured(CITUS=True):
        text = run("setup", "--superuser-url", url)
        again = run("setup", "--superuser-url", url)
        printed = run("setup", "--superuser-url", url, "--print")
    for name in project.roles:
        assert role_config(name) == ["citus.propagate_set_commands=local"]
        assert "citus.propagate_set_commands = 'local' on the" in text
        assert f"ALTER ROLE \"{name}\" SET citus.propagate_set_commands = 'local';" in printed
    assert text.count("citus.propagate_set_commands") == 3
    assert again.startswith("Nothing to change")
