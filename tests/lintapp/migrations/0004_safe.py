"""The safe forms: none of these is flagged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0003_data_and_schema")]

    operations = [
        migrations.AddField(
            model_name="thing", name="label", field=models.CharField(max_length=50, null=True)
        ),
        migrations.AddField(
            model_name="thing", name="flag", field=models.BooleanField(db_default=False)
        ),
        migrations.AddField(
            model_name="thing",
            name="loose",
            field=models.ForeignKey(
                null=True,
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="lintapp.other",
            ),
        ),
    ]
