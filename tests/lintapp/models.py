"""The state the migrations end in (so makemigrations --check stays clean)."""

from django.db import models


class Other(models.Model):
    def __str__(self) -> str:
        return str(self.pk)


class Thing(models.Model):
    name = models.CharField(max_length=50)
    new_name = models.CharField(max_length=50, default="")
    count = models.BigIntegerField(default=0)
    code = models.CharField(max_length=10)
    other = models.ForeignKey(Other, models.SET_NULL, null=True, related_name="+")
    note = models.TextField(null=True)  # noqa: DJ001  (nullable: the safe way to add it)
    label = models.CharField(max_length=50, null=True)  # noqa: DJ001
    flag = models.BooleanField(db_default=False)
    loose = models.ForeignKey(
        Other,
        models.DO_NOTHING,
        null=True,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(fields=["count"], name="lintapp_new_idx"),
            models.Index(fields=["name"], name="lintapp_thing_name_idx"),
            models.Index(fields=["label"], name="lintapp_thing_label_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="lintapp_thing_name_uniq"),
            models.CheckConstraint(
                condition=models.Q(count__gte=0), name="lintapp_thing_count_check"
            ),
        ]

    def __str__(self) -> str:
        return self.name
