"""A context value counts only while it is the newest one signed for its session.

``context_functions_v3.sql``: ``prodpatterns_private.open_context()`` starts a session's
verification state (a nonce and a counter floor); ``set_context()`` remembers a value only
when it is signed for that state with a counter above the floor; the per-statement
functions accept the remembered value only and refuse other values of its layout
(pooled connections' values are still verified in full). A value seen in
``pg_stat_activity`` no longer counts on its own connection once that connection has
moved on to another context.
"""

from django.db import migrations

from django_prodpatterns.db.versioned import PostgresRunSQL, sql_file

DROP_OPEN_CONTEXT = """;
DROP FUNCTION IF EXISTS prodpatterns_private.open_context();
DROP FUNCTION IF EXISTS prodpatterns_private.refuse_context()
"""


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0007_context_cache"),
    ]

    operations = [
        PostgresRunSQL(
            sql=sql_file("context_functions_v3.sql"),
            reverse_sql=sql_file("context_functions_v2.sql") + DROP_OPEN_CONTEXT,
        ),
    ]
