"""Versioned SQL files and the operation that runs them.

Every piece of SQL the app installs as a whole (functions, the key store, one-off
rewrites) is a file in ``sql/`` whose name carries its version; a released file never
changes, and a new version ships in a new migration of the app. ``@schema@`` in a file
stands for the schema the migration runs in, so functions can name what they touch with
its schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.migrations.operations import RunSQL

SQL_DIR = Path(__file__).parent / "sql"

# Stands for the schema the migration runs in (``current_schema()``) in the versioned SQL
# files, so that functions can name the tables they touch with their schema.
SCHEMA = "@schema@"


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text()


def current_schema(connection: Any) -> str:
    """The schema unqualified names are created in on ``connection``, quoted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    return connection.ops.quote_name(schema.replace('"', '""'))


def in_schema(sql: str, connection: Any) -> str:
    """``sql`` with its schema placeholder replaced by the connection's current schema."""
    return sql.replace(SCHEMA, current_schema(connection)) if SCHEMA in sql else sql


def create_if_missing(function: str, sql: str) -> str:
    """A statement that runs ``sql`` only when ``function`` (a signature) does not exist.

    So a later migration never replaces a newer version of a shared function with the
    version it was written with.
    """
    quoted = "'" + sql.replace("'", "''") + "'"
    return (
        "DO $create_if_missing$ BEGIN"
        f" IF pg_catalog.to_regprocedure('{function}') IS NULL THEN EXECUTE {quoted}; END IF;"
        " END $create_if_missing$"
    )


class PostgresRunSQL(RunSQL):
    """RunSQL that runs on PostgreSQL only (a no-op elsewhere, shown by sqlmigrate).

    The schema placeholder of the versioned SQL files is filled in with the schema the
    migration runs in.
    """

    def _run_sql(self, schema_editor: Any, sqls: Any) -> None:
        if isinstance(sqls, str):
            sqls = in_schema(sqls, schema_editor.connection)
        super()._run_sql(schema_editor, sqls)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
