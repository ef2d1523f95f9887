"""Versioned SQL files, the templates of the per-table DDL, and the operation that runs them.

Every piece of SQL the app installs is a file in ``sql/`` whose name carries its version.
A released file never changes (``tests/test_frozen_sql.py`` pins its hash); a new version
is a new file, shipped by a new migration. Two kinds:

- Whole SQL (functions, the key store, one-off rewrites), run by the app's own migrations.
  ``@schema@`` stands for the schema the migration runs in, so functions can name what
  they touch with its schema.
- Templates of the DDL each model gets (policies, tenant keys, capture triggers), named
  ``<kind>_v<N>.sql``. The constraint a migration carries names its version, so that
  migration runs exactly that version's statements forever, whatever later releases
  generate. A template has sections (a line ``-- [name]``) of statements ending in ``;``
  (lines of one statement are joined by a space), placeholders in braces for quoted
  names; other ``--`` lines are comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import RunSQL
from django.db.migrations.state import ProjectState

if TYPE_CHECKING:
    from django.db.migrations.operations.special import _SqlOperations  # django-stubs only

SQL_DIR = Path(__file__).parent / "sql"

# Stands for the schema the migration runs in (``current_schema()``) in the versioned SQL
# files, so that functions can name the tables they touch with their schema.
SCHEMA = "@schema@"


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text()


@dataclass(frozen=True)
class Template:
    """One released version of a kind of generated DDL (``sql/<kind>_v<version>.sql``)."""

    kind: str
    version: int
    sections: dict[str, tuple[str, ...]]

    def statements(self, section: str, values: dict[str, str]) -> list[str]:
        """The section's statements with the placeholders filled in."""
        return [statement.format_map(values) for statement in self.sections.get(section, ())]

    def statement(self, section: str, values: dict[str, str]) -> str:
        """The one statement (or expression) of ``section``."""
        (statement,) = self.statements(section, values)
        return statement

    def files(self, section: str) -> list[tuple[str | None, str]]:
        """(function signature or None, file) for each entry of a section naming files."""
        entries = []
        for entry in self.sections.get(section, ()):
            signature, _, name = entry.rpartition(" ")
            entries.append((signature or None, name))
        return entries


def parse_template(kind: str, version: int, text: str) -> Template:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("-- [") and line.endswith("]"):
            current = sections.setdefault(line[4:-1], [])
            continue
        if not line or line.startswith("--"):
            continue
        if current is None:
            raise ValueError(f"{kind}_v{version}.sql: a statement before the first section")
        pending.append(line)
        if line.endswith(";"):
            current.append(" ".join(pending)[:-1])
            pending = []
    if pending:
        raise ValueError(f"{kind}_v{version}.sql: a statement without its closing ';'")
    return Template(kind, version, {name: tuple(items) for name, items in sections.items()})


@cache
def template(kind: str, version: int) -> Template:
    """The template of ``kind`` at ``version``; a clear error when this release lacks it."""
    path = SQL_DIR / f"{kind}_v{version}.sql"
    if not path.is_file():
        raise ImproperlyConfigured(
            f"A migration names version {version} of the generated {kind.replace('_', ' ')}, "
            "which this release of django_prodpatterns does not have: it was written by a "
            "newer release. Upgrade django_prodpatterns."
        )
    return parse_template(kind, version, path.read_text())


def required_statements(
    files: list[tuple[str | None, str]], connection: BaseDatabaseWrapper
) -> list[str]:
    """Statements that run each file, or create its function only when ``signature`` is
    missing (a later migration must never replace a newer version of a shared function)."""
    statements = []
    for signature, name in files:
        sql = in_schema(sql_file(name), connection)
        statements.append(create_if_missing(signature, sql) if signature else sql)
    return statements


def current_schema(connection: BaseDatabaseWrapper) -> str:
    """The schema unqualified names are created in on ``connection``, quoted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    return connection.ops.quote_name(schema.replace('"', '""'))


def in_schema(sql: str, connection: BaseDatabaseWrapper) -> str:
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

    def _run_sql(self, schema_editor: BaseDatabaseSchemaEditor, sqls: _SqlOperations) -> None:
        if isinstance(sqls, str):
            sqls = in_schema(sqls, schema_editor.connection)
        super()._run_sql(schema_editor, sqls)  # type: ignore[misc]  # not in django-stubs

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
