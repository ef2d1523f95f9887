"""The signed context's key, derived from ``SECRET_KEY``, written into its store.

Also written before and after every ``migrate`` (``apps.py``), so a changed ``SECRET_KEY``
reaches the database with the next deploy; written here as well so that data migrations
that run later in the same ``migrate`` have it.
"""

from django.db import migrations

from django_prodpatterns.db.signing import install_key


def write_key(apps, schema_editor):
    install_key(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0004_signed_context"),
    ]

    operations = [migrations.RunPython(write_key, migrations.RunPython.noop, elidable=False)]
