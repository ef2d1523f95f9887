from django.db import migrations


def touch(apps, schema_editor):
    apps.get_model("lintapp", "Thing").objects.filter(note__isnull=True).update(note="")


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0005_safe_index")]

    operations = [migrations.RunPython(touch, migrations.RunPython.noop)]
