"""The audit trigger function's version 6 (issue 17): on a database with Citus, the
entries of a statement reach the log in a second statement, so that tables on the
coordinator can be audited while the log is distributed (Citus mode); without Citus it
writes exactly what version 5 writes. Backwards, version 5 comes back as it was.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0011_audit_function_v5"),
    ]

    operations = [
        PostgresRunSQL(
            sql=sql_file("audit_function_v6.sql"),
            reverse_sql=sql_file("audit_function_v5.sql"),
        ),
    ]
