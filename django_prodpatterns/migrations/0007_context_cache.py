"""The signed context within its budget: values verified once, remembered per session.

- ``context_cache_v1.sql``: two owner-only sequences whose values name the setting that
  remembers verified values, and USAGE on ``prodpatterns_private`` for calling
  ``set_context()`` by its full name.
- ``context_functions_v2.sql``: ``prodpatterns_private.verify_context()`` and
  ``set_context()``; ``prodpatterns_verified_context()``, ``prodpatterns_tenant_id()`` and
  ``prodpatterns_actor_id()`` answer a remembered value without the HMAC.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file

DROP_CACHE = """
REVOKE USAGE ON SCHEMA prodpatterns_private FROM PUBLIC;
DROP SEQUENCE IF EXISTS prodpatterns_private.context_cache_a;
DROP SEQUENCE IF EXISTS prodpatterns_private.context_cache_b
"""
DROP_FUNCTIONS = """;
DROP FUNCTION IF EXISTS prodpatterns_private.set_context(text);
DROP FUNCTION IF EXISTS prodpatterns_private.verified_part(text, integer);
DROP FUNCTION IF EXISTS prodpatterns_private.verify_context(text)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0006_single_column_fks"),
    ]

    operations = [
        PostgresRunSQL(sql=sql_file("context_cache_v1.sql"), reverse_sql=DROP_CACHE),
        PostgresRunSQL(
            sql=sql_file("context_functions_v2.sql"),
            reverse_sql=sql_file("context_functions_v1.sql") + DROP_FUNCTIONS,
        ),
    ]
