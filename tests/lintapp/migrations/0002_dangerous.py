"""One of each operation that locks a busy table or breaks the running code."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.AddField(  # not-null-without-default
            model_name="thing",
            name="code",
            field=models.CharField(default="x", max_length=10),
            preserve_default=False,
        ),
        migrations.AddIndex(  # index-not-concurrent
            model_name="thing",
            index=models.Index(fields=["name"], name="lintapp_thing_name_idx"),
        ),
        migrations.AddConstraint(  # unique-not-concurrent
            model_name="thing",
            constraint=models.UniqueConstraint(fields=["name"], name="lintapp_thing_name_uniq"),
        ),
        migrations.AlterField(  # column-type-change
            model_name="thing", name="count", field=models.BigIntegerField(default=0)
        ),
        migrations.RenameField(  # rename
            model_name="thing", old_name="old_name", new_name="new_name"
        ),
        migrations.RemoveField(model_name="thing", name="legacy"),  # drop
        migrations.DeleteModel(name="Gone"),  # drop
        migrations.AddField(  # constraint-validated (and its index)
            model_name="thing",
            name="other",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="lintapp.other",
            ),
        ),
        migrations.AddConstraint(  # constraint-validated
            model_name="thing",
            constraint=models.CheckConstraint(
                condition=models.Q(count__gte=0), name="lintapp_thing_count_check"
            ),
        ),
    ]
