"""Version 5 of the audit trigger function (issue 16) and the fragments it is written with.

Version 5 is version 4 from a source that writes the log's INSERT and the redaction of a
snapshot once (``-- [fragment ...]`` sections, expanded when the file is read). What has to
hold: the source has one copy of each, the expanded function writes exactly the entries
version 4 writes, migration 0011 installs it and its reverse restores version 4, and the
expansion leaves every file written before it byte for byte as it was.
"""

from __future__ import annotations

import hashlib
from importlib import import_module
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations import Migration

from django_prodpatterns.db.versioned import (
    SQL_DIR,
    expand_fragments,
    in_schema,
    parse_template,
    sql_file,
)
from tests.audit_probe import assert_probe_entries, entries_written_by
from tests.test_frozen_sql import RELEASED

V4, V5 = "audit_function_v4.sql", "audit_function_v5.sql"
COLUMNS = (
    "INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes,"
    " snapshot,\n    actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path,"
    " reason, extra)"
)
REDACTION = "jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)"


def body(sql: str) -> str:
    """The text between the function's dollar quotes: what PostgreSQL stores (prosrc)."""
    return sql.split("$fn$")[1]


def file_body(name: str) -> str:
    """The body of the function in file ``name``, as a migration installs it here."""
    return body(in_schema(sql_file(name), connection))


def installed_body() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = 'prodpatterns_audit()'::regprocedure"
        )
        return cursor.fetchone()[0]


def migration(name: str) -> Migration:
    """The app's migration ``name``, as the migration loader imports it."""
    return import_module(f"django_prodpatterns.migrations.{name}").Migration


# --- the source and its expansion -----------------------------------------------------------


def test_the_source_writes_the_insert_and_the_redaction_once():
    """Version 4 repeats both in its three branches; version 5's file holds each once and
    its expansion, the SQL that runs, has them in all three branches again."""
    source = (SQL_DIR / V5).read_text()
    expanded = sql_file(V5)
    old = (SQL_DIR / V4).read_text()
    assert old.count("INSERT INTO @schema@.prodpatterns_auditlog") == 3
    assert old.count(REDACTION) == 3
    assert source.count("INSERT INTO @schema@.prodpatterns_auditlog") == 1
    assert source.count(COLUMNS.split("\n")[1].strip()) == 1
    assert source.count(REDACTION) == 1
    assert expanded.count(COLUMNS.replace("\n", "\n        ")) == 3
    assert expanded.count(REDACTION) == 3
    assert "{{" not in expanded and "[fragment" not in expanded


def test_the_files_read_before_fragments_existed_are_unchanged():
    """Every released file without fragments reads byte for byte as its pinned hash, so no
    migration's statements changed; version 4's (migration 0009 forwards, 0011 backwards)
    above all."""
    for name, digest in RELEASED.items():
        if name in (V5, "audit_function_v6.sql"):  # written with fragments
            continue
        assert hashlib.sha256(sql_file(name).encode()).hexdigest() == digest, name
    v4 = (SQL_DIR / V4).read_text()
    assert hashlib.sha256(v4.encode()).hexdigest() == (
        "fb3b6614a1f404315d4025a577b28d54c288ed6916b3554ebbe222d45e402814"
    )
    (installs_v4,) = migration("0009_audit_backfill").operations[:1]
    (installs_v5,) = migration("0011_audit_function_v5").operations
    assert installs_v4.sql == installs_v5.reverse_sql == v4
    assert installs_v5.sql == sql_file(V5) != (SQL_DIR / V5).read_text()


# --- the fragment mechanism -----------------------------------------------------------------

WITH_FRAGMENTS = """\
SELECT 1;
DO $$ BEGIN
    IF x THEN
        {{insert}};
    END IF;
    PERFORM {{value}} + 1;
END $$;

-- [fragment insert]
-- Describes the fragment: not part of it.
INSERT INTO t (a)
SELECT {{value}}
FROM s

-- [fragment value]
CASE WHEN b THEN 1
    ELSE 2 END
"""


def test_a_fragment_is_written_once_and_expanded_where_it_is_used():
    assert expand_fragments(WITH_FRAGMENTS, "x.sql") == (
        "SELECT 1;\n"
        "DO $$ BEGIN\n"
        "    IF x THEN\n"
        "        INSERT INTO t (a)\n"
        "        SELECT CASE WHEN b THEN 1\n"
        "            ELSE 2 END\n"
        "        FROM s;\n"
        "    END IF;\n"
        "    PERFORM CASE WHEN b THEN 1\n"
        "        ELSE 2 END + 1;\n"
        "END $$;\n"
    )


def test_a_template_may_use_fragments_and_its_placeholders_inside_them():
    parsed = parse_template(
        "kind",
        1,
        "-- [create]\nCREATE POLICY {policy} ON {table} USING ({{condition}})"
        " WITH CHECK ({{condition}});\n-- [fragment condition]\n{column} = 1\n"
        "-- [remove]\nDROP POLICY {policy} ON {table};\n",
    )
    values = {"policy": "p", "table": "t", "column": "c"}
    assert parsed.statements("create", values) == [
        "CREATE POLICY p ON t USING (c = 1) WITH CHECK (c = 1)"
    ]
    assert parsed.statements("remove", values) == ["DROP POLICY p ON t"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SELECT {{nothing}};\n", r"x.sql: \{\{nothing\}\} names no fragment"),
        ("SELECT {{a}};\n-- [fragment a]\n1\n-- [fragment a]\n2\n", "fragment a is defined twice"),
        ("SELECT {{a}};\n-- [fragment a]\n-- only a comment\n", "fragment a is empty"),
        ("SELECT 1;\n-- [fragment a]\n1\n", "fragment a is never used"),
        ("SELECT {{a}};\n-- [fragment a]\n{{a}} + 1\n", "fragment a uses itself"),
    ],
    ids=["unknown", "twice", "empty", "unused", "recursive"],
)
def test_a_mistake_in_fragments_is_an_error_not_sql(text, error):
    with pytest.raises(ValueError, match=error):
        expand_fragments(text, "x.sql")


# --- in the database ------------------------------------------------------------------------


@pytest.mark.django_db
def test_version_5_writes_exactly_the_entries_version_4_writes():
    before = entries_written_by(V4, connection)
    after = entries_written_by(V5, connection)
    assert after == before
    assert_probe_entries(before)


@pytest.mark.django_db
def test_migration_0011_installs_version_5_and_its_reverse_restores_version_4():
    try:
        call_command("migrate", "prodpatterns", "0011", verbosity=0, stdout=StringIO())
        assert installed_body() == file_body(V5)
        call_command("migrate", "prodpatterns", "0010", verbosity=0, stdout=StringIO())
        assert installed_body() == file_body(V4)
    finally:
        call_command("migrate", "prodpatterns", verbosity=0, stdout=StringIO())


@pytest.mark.django_db
def test_sqlmigrate_shows_the_expanded_function():
    out = StringIO()
    call_command("sqlmigrate", "prodpatterns", "0011", stdout=out)
    shown = out.getvalue()
    assert file_body(V5) in shown
    assert "{{" not in shown and "[fragment" not in shown
