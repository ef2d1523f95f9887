"""A data migration inside a schema migration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0002_dangerous")]

    operations = [
        migrations.AddField(model_name="thing", name="note", field=models.TextField(null=True)),
        migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop),
    ]
