"""``manage.py prodpatterns``: the database side of tenant isolation.

- ``prodpatterns setup --superuser-url URL [--for-tests] [--print]``: create the roles and
  the database that ``DATABASES`` and ``PRODPATTERNS`` name, owned by the owner, and grant
  the application and cross-tenant roles their data privileges; a second run changes
  nothing. See :mod:`django_prodpatterns.ops.setup`.
- ``prodpatterns roles [--apply]``: the SQL for the owner, application and cross-tenant
  roles and their privileges, named by ``DATABASES``; printed without connecting, or run
  with ``--apply``.
- ``prodpatterns check [--database ALIAS]``: compare the DDL in the database (policies,
  capture triggers, tenant keys, the app's functions, the audit log's guard) with what the
  models and the current versions generate; exits 1 listing each difference. Through the
  owner alias (``OWNER_DATABASE``) unless ``--database`` names another. ``rls check`` is
  its earlier name. See :mod:`django_prodpatterns.ops.drift`.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql as pgsql

from ...conf import SETTINGS_NAME, app_settings
from ...ops import drift, setup
from ...ops.roles import Role, ensure_role, grant_statements


class Command(BaseCommand):
    help = "Database roles, set-up and row-level-security drift for tenant isolation."
    # setup and roles run before the database exists, where checks that connect would
    # stop them; rls check runs the checks itself (handle).
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="topic", required=True)
        set_up = sub.add_parser(
            "setup", help="create the roles and the database DATABASES names, and grant"
        )
        set_up.add_argument(
            "--superuser-url",
            default=None,
            help="a superuser's connection URL, e.g. postgres://postgres@localhost/postgres",
        )
        set_up.add_argument(
            "--for-tests",
            action="store_true",
            help="let the owner create databases (pytest-django and manage.py test need it)",
        )
        set_up.add_argument("--print", action="store_true", help="print the SQL, connect nowhere")
        set_up.add_argument("--schema", default="public")
        roles = sub.add_parser("roles", help="SQL for the three roles (or --apply it)")
        roles.add_argument("--owner", default=None, help="default: USER of OWNER_DATABASE")
        roles.add_argument("--app", default=None, help="default: USER of the default alias")
        roles.add_argument("--cross-tenant", default=None, help="default: USER of ADMIN_DATABASE")
        roles.add_argument("--schema", default="public")
        roles.add_argument(
            "--apply",
            action="store_true",
            help="run it (needs a superuser); passwords from PRODPATTERNS_<ROLE>_PASSWORD",
        )
        roles.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="the alias --apply connects through"
        )
        check = sub.add_parser(
            "check", help="compare the database's policies, triggers and functions with the app's"
        )
        rls = sub.add_parser(
            "rls", help="deprecated: the same check by its earlier name; use prodpatterns check"
        )
        rls.add_argument("action", choices=["check"])
        for parser in (check, rls):
            parser.add_argument(
                "--database",
                default=None,
                help="the alias to read through (default: OWNER_DATABASE, else default)",
            )

    def handle(self, *args: Any, topic: str, **options: Any) -> None:
        if topic == "setup":
            self.setup(**options)
        elif topic == "roles":
            self.roles(**options)
        else:
            if topic == "rls":
                self.stderr.write(
                    "prodpatterns rls check is deprecated: it is prodpatterns check now, "
                    "which also compares triggers, tenant keys and functions; use that name."
                )
            if not options.get("skip_checks"):
                self.check()
            database = options["database"] or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
            self.drift_check(self.postgresql(database), database)

    def postgresql(self, database: str) -> BaseDatabaseWrapper:
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(f"Database {database!r} is not PostgreSQL.")
        return connection

    def configured(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``DATABASES`` and the merged ``PRODPATTERNS``, read from settings: the commands
        here describe roles that may not exist yet, so they never ask a connection."""
        try:
            prodpatterns = {
                key: getattr(app_settings, key) for key in ("OWNER_DATABASE", "ADMIN_DATABASE")
            }
        except ImproperlyConfigured as exc:  # a typo in PRODPATTERNS: say it in one line
            raise CommandError(str(exc)) from exc
        return settings.DATABASES, prodpatterns

    def setup(
        self, *, superuser_url: str | None, for_tests: bool, schema: str, **options: Any
    ) -> None:
        """Make the project's roles and database exist as configured; say what changed."""
        databases, prodpatterns = self.configured()
        try:
            plan = setup.plan_from_settings(
                databases, prodpatterns, for_tests=for_tests, schema=schema
            )
            if options["print"]:
                for line in setup.script(plan):
                    self.stdout.write(line)
                return
            if not superuser_url:
                raise setup.SetupError(
                    "setup needs --superuser-url: a superuser's connection URL, e.g. "
                    "--superuser-url postgres://postgres@localhost:5432/postgres "
                    "(or --print for the SQL)."
                )
            changes = setup.apply(plan, superuser_url)
        except setup.SetupError as exc:
            raise CommandError(str(exc)) from exc
        if not changes:
            self.stdout.write(setup.summary(plan))
            return
        for change in changes:
            self.stdout.write(f"- {change}")
        self.stdout.write(
            f"Set up: migrate as {plan.owner.name} "
            f"({SETTINGS_NAME}['OWNER_DATABASE']), serve requests as {plan.app.name}."
        )

    def roles(
        self,
        *,
        owner: str | None,
        app: str | None,
        cross_tenant: str | None,
        schema: str,
        apply: bool,
        database: str,
        **options: Any,
    ) -> None:
        names = setup.role_names(*self.configured())
        owner = owner or names[setup.OWNER]
        app = app or names[setup.APP]
        cross_tenant = cross_tenant or names[setup.CROSS_TENANT]

        def password(kind: str) -> str | None:
            return os.environ.get(f"PRODPATTERNS_{kind}_PASSWORD")

        roles = [
            ("owner: runs migrations and owns the tables", Role(owner, password("OWNER"))),
            (
                "application: serves requests, row level security applies",
                Role(app, password("APP")),
            ),
            (
                "cross-tenant: PRODPATTERNS['ADMIN_DATABASE'] connects as it",
                Role(cross_tenant, password("CROSS_TENANT"), bypassrls=True),
            ),
        ]
        grants = [
            statement
            for role in (app, cross_tenant)
            for statement in grant_statements(role, schema, owner=owner)
        ]
        if apply:
            connection = self.postgresql(database)
            connection.ensure_connection()
            raw = connection.connection
            for _, role in roles:
                ensure_role(raw, role)
            for statement in grants:
                raw.execute(statement)
            self.stdout.write(f"Applied: roles {owner}, {app}, {cross_tenant} and their grants.")
            return

        # Printed without a connection: the roles may not exist yet, and what is printed
        # gets pasted into psql, so names are SQL only as psycopg quotes them.
        for note, role in roles:
            self.stdout.write(setup.sql_comment(note))
            self.stdout.write(setup.sql_text(setup.create_role_statement(role)))
        owner_sql, schema_sql = (pgsql.Identifier(name).as_string(None) for name in (owner, schema))
        self.stdout.write(
            setup.sql_comment(f"data privileges on what {owner_sql} creates in {schema_sql}")
        )
        for statement in grants:
            self.stdout.write(setup.sql_text(statement))
        self.stdout.write(
            setup.sql_comment("then: ALTER ROLE <name> PASSWORD '...'; for each role")
        )

    def drift_check(self, connection: BaseDatabaseWrapper, database: str) -> None:
        reason = drift.refusal(connection, database)
        if reason is not None:
            raise CommandError(reason)
        found = drift.differences(connection)
        if found:
            for line in found:
                self.stderr.write(line)
            raise CommandError(
                f"{len(found)} difference(s) between the app's DDL and the database "
                f"{database!r}; run migrate, or see the lines above."
            )
        covered = drift.checked(connection)
        self.stdout.write(f"The database matches the models and the app's DDL ({covered}).")
