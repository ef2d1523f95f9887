"""``manage.py prodpatterns``: the database side of tenant isolation.

- ``prodpatterns roles [--apply]``: the SQL for the owner, application and cross-tenant
  roles and their privileges; printed, or run with ``--apply``.
- ``prodpatterns rls check``: compare row level security in the database with the models;
  exits 1 listing each difference.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from ...db import rls
from ...db.roles import Role, ensure_role, grant_statements


class Command(BaseCommand):
    help = "Database roles and row-level-security drift for tenant isolation."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="topic", required=True)
        roles = sub.add_parser("roles", help="SQL for the three roles (or --apply it)")
        roles.add_argument("--owner", default="prodpatterns_owner")
        roles.add_argument("--app", default="prodpatterns_app")
        roles.add_argument("--cross-tenant", default="prodpatterns_admin")
        roles.add_argument("--schema", default="public")
        roles.add_argument(
            "--apply",
            action="store_true",
            help="run it (needs a superuser); passwords from PRODPATTERNS_<ROLE>_PASSWORD",
        )
        roles.add_argument("--database", default=DEFAULT_DB_ALIAS)
        check = sub.add_parser("rls", help="row level security")
        check.add_argument("action", choices=["check"])
        check.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, topic, database, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(f"Database {database!r} is not PostgreSQL.")
        if topic == "roles":
            self.roles(connection, **options)
        else:
            self.rls_check(connection, database)

    def roles(self, connection, *, owner, app, cross_tenant, schema, apply, **options):
        def password(kind):
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
        connection.ensure_connection()
        raw = connection.connection
        if apply:
            for _, role in roles:
                ensure_role(raw, role)
            for statement in grants:
                raw.execute(statement)
            self.stdout.write(f"Applied: roles {owner}, {app}, {cross_tenant} and their grants.")
            return

        # What is printed gets pasted into psql, so a name is SQL only as psycopg quotes it
        # (Django's quote_name leaves an embedded double quote alone: 'x"; DROP ...' would
        # end the identifier), and a line break in a name would end a comment line: every
        # character str.splitlines() breaks at is shown escaped there.
        from psycopg import sql as pgsql

        line_breaks = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}

        def ident(name: str) -> str:
            return pgsql.Identifier(name).as_string(raw)

        def comment(text: str) -> None:
            self.stdout.write(f"-- {text.translate(line_breaks)}")

        for note, role in roles:
            comment(note)
            statement = pgsql.SQL("CREATE ROLE {} {}").format(
                pgsql.Identifier(role.name), role.options_sql()
            )
            self.stdout.write(f"{statement.as_string(raw)};")
        comment(f"data privileges on what {ident(owner)} creates in {ident(schema)}")
        for statement in grants:
            self.stdout.write(f"{statement.as_string(raw)};")
        comment("then: ALTER ROLE <name> PASSWORD '...'; for each role")

    def rls_check(self, connection, database):
        found = rls.differences(connection)
        if found:
            for line in found:
                self.stderr.write(line)
            raise CommandError(
                f"{len(found)} difference(s) between the models and row level security "
                f"in {database!r}; run migrate, or see the lines above."
            )
        count = len(rls.expected_policies())
        self.stdout.write(f"Row level security matches the models ({count} tables).")
