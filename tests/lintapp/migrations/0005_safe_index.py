from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class PostgresOnlyAddIndexConcurrently(AddIndexConcurrently):
    """The test settings also migrate a SQLite database, which has no CONCURRENTLY."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("lintapp", "0004_safe")]

    operations = [
        PostgresOnlyAddIndexConcurrently(
            model_name="thing",
            index=models.Index(fields=["label"], name="lintapp_thing_label_idx"),
        ),
    ]
