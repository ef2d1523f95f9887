"""The signed context (issue 14): the database accepts only the context the app sent.

- The key store: schema ``prodpatterns_private`` with ``context_key`` (owner only).
- The functions: ``prodpatterns_verified_context()`` (SECURITY DEFINER, verifies the
  signature), ``prodpatterns_tenant_id()`` and ``prodpatterns_actor_id()``.
- The key itself comes in the next migration (data, not schema).
- The audit trigger function, version 3: reads the verified context.
- Every policy that read the raw ``prodpatterns.tenant_id`` setting (the app's own, and
  hand-written ones in the form the app generated) reads the verified tenant instead.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0003_hardening"),
    ]

    operations = [
        PostgresRunSQL(
            sql=sql_file("context_key_v1.sql"),
            reverse_sql="DROP SCHEMA IF EXISTS prodpatterns_private CASCADE",
        ),
        PostgresRunSQL(
            sql=sql_file("context_functions_v1.sql"), reverse_sql=migrations.RunSQL.noop
        ),
        PostgresRunSQL(sql=sql_file("audit_function_v3.sql"), reverse_sql=migrations.RunSQL.noop),
        PostgresRunSQL(
            sql=sql_file("verified_policies_v1.sql"), reverse_sql=migrations.RunSQL.noop
        ),
    ]
