"""A probe of the audit trigger function: tables of each shape it handles, the writes
made to them, and the entries it wrote (tests/test_audit_function_v5.py, _v6.py, and on
Citus tests/citus/test_audit_on_citus.py)."""

from __future__ import annotations

import json

from django.db.backends.base.base import BaseDatabaseWrapper

from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.db.versioned import in_schema, sql_file

# A table of each shape the function handles: redacted columns, an ignored one, a tenant
# column, soft deletion; and the primary key and tenant redacted (read from the snapshot
# for created and deleted rows, from the row for updated ones, in every version).
PROBES = {
    "redacting": ("id", "tenant_id", '["secret"]', '["touched"]'),
    "plain": ("id", "", "[]", "[]"),
    "keys_redacted": ("id", "tenant_id", '["id", "tenant_id"]', "[]"),
}
WRITES = [
    "INSERT INTO {t} (id, name, secret, tenant_id) VALUES"
    " (1, 'a', 's1', 't1'), (2, 'b', 's2', ''), (3, 'c', NULL, NULL)",
    "UPDATE {t} SET name = name || '!' WHERE id < 3",
    "UPDATE {t} SET touched = 5",
    "UPDATE {t} SET secret = 'changed' WHERE id = 1",
    "UPDATE {t} SET deleted_at = '2024-01-02T03:04:05+00' WHERE id = 2",
    "UPDATE {t} SET deleted_at = NULL WHERE id = 2",
    "UPDATE {t} SET id = id",
    "DELETE FROM {t} WHERE id <> 3",
    "DELETE FROM {t}",
]


JSON_COLUMNS = (3, 4, 13)  # changes, snapshot, extra: jsonb, which a plain cursor reads as text


def install(name: str, connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(in_schema(sql_file(name), connection))


def entries_written_by(function: str, connection: BaseDatabaseWrapper) -> list[tuple]:
    """The entries ``function`` writes for WRITES on each probe table (all but id and time)."""
    install(function, connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM prodpatterns_auditlog")
        (last,) = cursor.fetchone()
        for name, (pk, tenant, redact, ignore) in PROBES.items():
            table = f"v5_probe_{name}"
            cursor.execute(
                f"CREATE TABLE {table} (id integer PRIMARY KEY, name text, secret text,"
                " tenant_id text, touched integer, deleted_at timestamptz)"
            )
            arguments = ", ".join(f"'{a}'" for a in (f"x.{name}", pk, tenant, redact, ignore))
            for event, tables in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
            ):
                cursor.execute(
                    f"CREATE TRIGGER {table}_{event.lower()} AFTER {event} ON {table}"
                    f" REFERENCING {tables} FOR EACH STATEMENT"
                    f" EXECUTE FUNCTION prodpatterns_audit({arguments})"
                )
            with (
                tenant_context("context-tenant"),
                audit_context(reason="probe", request_id="r-1", path="/p", note="n"),
            ):
                for write in WRITES:
                    cursor.execute(write.format(t=table))
            cursor.execute(f"DROP TABLE {table}")
        cursor.execute(
            "SELECT model, object_pk, action, changes, snapshot, actor_id, actor_repr,"
            " tenant_id, request_id, ip_address, user_agent, path, reason, extra"
            " FROM prodpatterns_auditlog WHERE id > %s ORDER BY id",
            [last],
        )
        return [
            tuple(
                json.loads(v) if i in JSON_COLUMNS and v is not None else v
                for i, v in enumerate(row)
            )
            for row in cursor.fetchall()
        ]


def assert_probe_entries(entries: list[tuple]) -> None:
    """What every version since 4 writes for the probe (the entries of one run)."""
    assert {entry[2] for entry in entries} == {
        "create",
        "update",
        "soft_delete",
        "restore",
        "delete",
    }
    per_table = {name: sum(e[0] == f"x.{name}" for e in entries) for name in PROBES}
    # id = id changes nothing, and neither does touched where it is ignored: no entries
    assert per_table == {"redacting": 11, "plain": 14, "keys_redacted": 14}
    redacting = [e for e in entries if e[0] == "x.redacting"]
    assert redacting[0][4]["secret"] == "[redacted]" and redacting[0][7] == "t1"
    assert redacting[1][7] == "context-tenant"  # an empty tenant column: the context's
    assert {"secret": ["[redacted]", "[redacted]"]} in [e[3] for e in redacting]
    keys = [e for e in entries if e[0] == "x.keys_redacted"]
    assert keys[0][1] == keys[0][7] == "[redacted]"
    assert keys[3][2] == "update" and keys[3][1] in ("1", "2") and keys[3][7] in ("t1", "")
    assert entries[0][8:] == ("r-1", None, None, "/p", "probe", {"note": "n"})
