"""The audit trigger function's version 5 (issue 16): version 4's behaviour, from a source
that writes the log's INSERT and the redaction of a snapshot once (fragments, expanded
when the file is read: see db/versioned.py). What runs, and what ``sqlmigrate`` shows, is
the expanded function. Backwards, version 4 comes back as it was.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0010_tenant_access"),
    ]

    operations = [
        PostgresRunSQL(
            sql=sql_file("audit_function_v5.sql"),
            reverse_sql=sql_file("audit_function_v4.sql"),
        ),
    ]
