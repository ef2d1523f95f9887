"""A deliberate backfill (issue 15): many rows written, one audit entry.

- ``audit_function_v4.sql``: the trigger function skips per-row entries for a statement
  only when the verified context carries the backfill marker that ``audit_backfill()``
  signs and the session's login role has the privileges of the table's owner; it counts
  the skipped rows in a transaction-local setting for the one ``backfill`` entry. Backwards,
  version 3 comes back as it was.
- ``AuditLog.action`` gains the ``backfill`` choice (no change in the database).

A project's data migration that uses ``audit_backfill()`` depends on this migration.
"""

from django.db import migrations, models

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0008_fresh_context"),
    ]

    operations = [
        PostgresRunSQL(
            sql=sql_file("audit_function_v4.sql"),
            reverse_sql=sql_file("audit_function_v3.sql"),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "create"),
                    ("update", "update"),
                    ("delete", "delete"),
                    ("soft_delete", "soft delete"),
                    ("restore", "restore"),
                    ("prune", "prune"),
                    ("backfill", "backfill"),
                ],
                max_length=20,
                verbose_name="action",
            ),
        ),
    ]
