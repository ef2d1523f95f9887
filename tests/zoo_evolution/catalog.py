"""What the PostgreSQL catalog holds for a set of tables, as plain JSON-able data.

Used by tests/test_zoo_migrations.py in the test process and in its child processes (the
snapshots travel as JSON), so everything here is lists and dicts of strings and booleans,
sorted, with no object ids: two databases built the same way give equal snapshots.
"""

from __future__ import annotations

from typing import Any

# The tables are given by name; only those the search path shows (the public schema here).
_IN_TABLES = "c.relname = ANY(%s) AND pg_table_is_visible(c.oid)"


def _rows(cursor: Any, sql: str, params: list[Any]) -> list[list[Any]]:
    cursor.execute(sql, params)
    return sorted([list(row) for row in cursor.fetchall()], key=repr)


def table_snapshot(cursor: Any, tables: list[str]) -> dict[str, Any]:
    """Everything the catalog says about ``tables`` (names as in ``pg_class.relname``)."""
    tables = sorted(tables)
    return {
        "tables": _rows(
            cursor,
            "SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity"
            f" FROM pg_class c WHERE {_IN_TABLES}",
            [tables],
        ),
        "policies": _rows(
            cursor,
            "SELECT p.tablename, p.policyname, p.permissive, p.roles::text[], p.cmd,"
            " p.qual, p.with_check FROM pg_policies p"
            " JOIN pg_class c ON c.relname = p.tablename"
            " AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = p.schemaname)"
            f" WHERE {_IN_TABLES}",
            [tables],
        ),
        "triggers": _rows(
            cursor,
            "SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid)"
            " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            f" WHERE NOT t.tgisinternal AND {_IN_TABLES}",
            [tables],
        ),
        "constraints": _rows(
            cursor,
            "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            f" WHERE {_IN_TABLES}",
            [tables],
        ),
        # Foreign keys of other tables that point into these ones.
        "referenced_by": _rows(
            cursor,
            "SELECT s.relname, k.conname, pg_get_constraintdef(k.oid)"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid"
            " JOIN pg_class s ON s.oid = k.conrelid"
            f" WHERE k.contype = 'f' AND {_IN_TABLES} AND NOT s.relname = ANY(%s)",
            [tables, tables],
        ),
        "indexes": _rows(
            cursor,
            "SELECT c.relname, i.relname, pg_get_indexdef(i.oid)"
            " FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid"
            f" JOIN pg_class i ON i.oid = x.indexrelid WHERE {_IN_TABLES}",
            [tables],
        ),
        "columns": _rows(
            cursor,
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
            " a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            f" WHERE a.attnum > 0 AND NOT a.attisdropped AND {_IN_TABLES}",
            [tables],
        ),
    }


def functions(cursor: Any) -> list[list[str]]:
    """The functions and procedures of the public schema: name, arguments, definition."""
    return _rows(
        cursor,
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)"
        " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
        " AND p.prokind IN ('f', 'p')",
        [],
    )


def named_like(cursor: Any, prefix: str) -> dict[str, list[list[str]]]:
    """Every policy, trigger, constraint and relation (table, index, sequence, ...) in the
    database whose own name or whose table's name starts with ``prefix``: what a migration
    back to zero must leave none of."""
    pattern = prefix.replace("_", r"\_") + "%"
    return {
        "policies": _rows(
            cursor,
            "SELECT tablename, policyname FROM pg_policies"
            " WHERE tablename LIKE %s OR policyname LIKE %s",
            [pattern, pattern],
        ),
        "triggers": _rows(
            cursor,
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND (c.relname LIKE %s OR t.tgname LIKE %s)",
            [pattern, pattern],
        ),
        "constraints": _rows(
            cursor,
            "SELECT coalesce(c.relname, ''), k.conname FROM pg_constraint k"
            " LEFT JOIN pg_class c ON c.oid = k.conrelid"
            " WHERE c.relname LIKE %s OR k.conname LIKE %s",
            [pattern, pattern],
        ),
        "relations": _rows(
            cursor,
            "SELECT relname, relkind FROM pg_class"
            " WHERE relname LIKE %s AND relnamespace = 'public'::regnamespace",
            [pattern],
        ),
    }
