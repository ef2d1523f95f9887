"""Foreign keys between tenant models are enforced by their (tenant, key) key alone.

Drops Django's single-column foreign key beside each (tenant, key) one in databases
migrated before (issue 14): next to each other, the two told a tenant which keys exist in
other tenants. New ones are dropped as the (tenant, key) key is created.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0005_context_key"),
    ]

    operations = [
        PostgresRunSQL(sql=sql_file("single_column_fks_v1.sql"), reverse_sql=migrations.RunSQL.noop)
    ]
