"""Security hardening of the database side (issue 14).

- The audit trigger function, version 2: SECURITY DEFINER (the application role loses
  INSERT on the log; only the capture path writes it), search_path pinned, names
  schema-qualified.
- The append-only guard, version 2: search_path pinned, catalog schema-qualified.
- A SECURITY DEFINER staging-table function for COPY-speed bulk inserts, so that the
  application role needs no TEMPORARY privilege.
- Privileges: no write privilege on the log for anyone but its owner; TEMPORARY taken from
  PUBLIC when the migrating role owns the database.

Each piece is a versioned SQL file that never changes once released.
"""

from django.db import migrations

from django_prodpatterns.db.audit import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0002_audit_log"),
    ]

    operations = [
        PostgresRunSQL(
            # Backwards it stays: version 1 would need the write privileges given back.
            sql=sql_file("audit_function_v2.sql"),
            reverse_sql=migrations.RunSQL.noop,
        ),
        PostgresRunSQL(
            sql=sql_file("audit_guard_v2.sql"),
            reverse_sql=migrations.RunSQL.noop,
        ),
        PostgresRunSQL(
            sql=sql_file("stage_function_v1.sql"),
            reverse_sql="DROP FUNCTION IF EXISTS prodpatterns_stage(regclass, text[])",
        ),
        PostgresRunSQL(sql=sql_file("privileges_v1.sql"), reverse_sql=migrations.RunSQL.noop),
    ]
