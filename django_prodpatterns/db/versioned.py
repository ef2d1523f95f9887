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

Either kind may define fragments: text written once and used in several places, so that a
file need not repeat a long statement or expression (``audit_function_v5.sql``). A line
``-- [fragment <name>]`` starts one; it runs up to the next ``-- [...]`` line or the end of
the file (a whole SQL file puts its fragments last), and its leading comment lines describe
it. ``{{<name>}}`` anywhere else stands for the fragment's text; the lines after its first
take the indentation of the line the reference is on. The fragments are expanded when the
file is read (``sql_file``, ``template``), so that what a migration runs, what
``sqlmigrate`` shows and what ``prodpatterns check`` compares is the expanded SQL, the one
PostgreSQL stores. A file without fragments reads byte for byte as it is written.
"""

from __future__ import annotations

import re
import textwrap
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


# The current version of each file of functions that the app's own migrations install (the
# version its latest migration installed): the trigger function that AuditTriggers names and
# the yardstick of ``prodpatterns check``. The migration that ships a new version updates
# its line here (tests/test_drift.py fails on a freshly migrated database otherwise).
CURRENT_FUNCTIONS = {
    "context_functions": 3,
    "audit_function": 6,
    "audit_guard": 2,
    "stage_function": 1,
}


def current_function_file(kind: str) -> str:
    """The file of the current version of ``kind``, one of ``CURRENT_FUNCTIONS``."""
    return f"{kind}_v{CURRENT_FUNCTIONS[kind]}.sql"


def sql_file(name: str) -> str:
    """The SQL of the file ``name``, its fragments expanded: the SQL that runs."""
    return expand_fragments((SQL_DIR / name).read_text(), name)


FRAGMENT = re.compile(r"-- \[fragment (\w+)\]")
REFERENCE = re.compile(r"\{\{([A-Za-z_]\w*)\}\}")


def _is_section_line(line: str) -> bool:
    """A (stripped) line that starts a template's section, and so ends a fragment."""
    return line.startswith("-- [") and line.endswith("]")


def expand_fragments(text: str, source: str) -> str:
    """``text`` without its fragments' definitions, each reference replaced by its fragment.

    Text that defines and uses no fragment comes back unchanged (every released file
    before ``audit_function_v5.sql``), so adding fragments changed no statement a
    migration runs. A reference to no fragment, a fragment defined twice, an empty one,
    an unused one and a fragment that uses itself are errors: a typo never reaches SQL.
    """
    kept: list[str] = []
    definitions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines(keepends=True):
        header = FRAGMENT.fullmatch(line.strip())
        if header:
            if header[1] in definitions:
                raise ValueError(f"{source}: fragment {header[1]} is defined twice")
            current = definitions[header[1]] = []
            continue
        if current is not None and _is_section_line(line.strip()):
            current = None
        (kept if current is None else current).append(line)
    if not definitions and not REFERENCE.search(text):
        return text
    fragments = {name: _fragment_text(lines, name, source) for name, lines in definitions.items()}
    used: set[str] = set()
    expanded = _expand("".join(kept), fragments, (), used, source)
    if unused := sorted(set(fragments) - used):
        raise ValueError(f"{source}: fragment {', '.join(unused)} is never used")
    return expanded.rstrip() + "\n"


def _fragment_text(lines: list[str], name: str, source: str) -> str:
    """A fragment's text: dedented, without its leading comments, blank lines around it and
    its last line break (the line of the reference goes on after it)."""
    body = textwrap.dedent("".join(lines)).splitlines()
    while body and (not body[0].strip() or body[0].lstrip().startswith("--")):
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    if not body:
        raise ValueError(f"{source}: fragment {name} is empty")
    return "\n".join(body)


def _expand(
    text: str, fragments: dict[str, str], inside: tuple[str, ...], used: set[str], source: str
) -> str:
    """``text`` with each reference replaced by its fragment, itself expanded; the lines of
    a fragment after its first take the indentation of the line the reference is on, so
    that the SQL ``sqlmigrate`` shows reads like the file."""
    lines = []
    for line in text.splitlines(keepends=True):
        indent = line[: len(line) - len(line.lstrip())]

        def fragment(match: re.Match[str], indent: str = indent) -> str:
            name = match[1]
            if name not in fragments:
                raise ValueError(f"{source}: {match[0]} names no fragment")
            if name in inside:
                raise ValueError(f"{source}: fragment {name} uses itself")
            used.add(name)
            expanded = _expand(fragments[name], fragments, (*inside, name), used, source)
            first, *rest = expanded.split("\n")
            rest = [indent + part if part.strip() else part for part in rest]
            return "\n".join([first, *rest])

        lines.append(REFERENCE.sub(fragment, line))
    return "".join(lines)


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
    """The sections of a template's text, its fragments expanded first."""
    text = expand_fragments(text, f"{kind}_v{version}.sql")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if _is_section_line(line):
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
