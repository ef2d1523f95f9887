"""System checks for soft-delete models: undeclared plain children, uniqueness, managers."""

from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from django_prodpatterns import checks
from django_prodpatterns.models import SoftDeleteModel, alive_unique


def ids(messages):
    return sorted(m.id for m in messages)


def isolated_messages(check, model):
    """Run ``check`` over the isolated app registry that ``model`` was defined in."""
    return check(app_configs=[model._meta.apps.get_app_config("testapp")])


def test_undeclared_plain_cascade_child_is_an_error_naming_the_relation():
    with override_settings(PRODPATTERNS={}):
        messages = checks.check_soft_delete_cascades()
    assert ids(messages) == ["prodpatterns.E010"]
    assert "testapp.Attachment.post" in messages[0].msg
    assert "SOFT_DELETE_PLAIN_CHILDREN" in messages[0].hint


def test_declared_plain_cascade_child_passes():
    for choice in ("error", "hard", "keep"):
        plain = {"SOFT_DELETE_PLAIN_CHILDREN": {"testapp.Attachment": choice}}
        with override_settings(PRODPATTERNS=plain):
            assert checks.check_soft_delete_cascades() == []


@isolate_apps("tests.testapp")
def test_unique_fields_and_constraints_that_count_deleted_rows_are_flagged():
    class Owner(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "testapp"

    class Item(SoftDeleteModel):
        sku = models.CharField(max_length=10, unique=True)
        code = models.CharField(max_length=10)
        label = models.CharField(max_length=10)
        slug = models.CharField(max_length=10)
        owner = models.OneToOneField(Owner, models.CASCADE)

        class Meta:
            app_label = "testapp"
            unique_together = [("code", "label")]
            constraints = [
                models.UniqueConstraint(fields=["label"], name="item_label_uniq"),
                alive_unique("slug", name="item_slug_alive_uniq"),
            ]

    messages = isolated_messages(checks.check_soft_delete_uniqueness, Item)
    assert ids(messages) == [
        "prodpatterns.W010",
        "prodpatterns.W011",
        "prodpatterns.W012",
        "prodpatterns.W012",
    ]
    text = " ".join(m.msg for m in messages)
    assert "Item.sku" in text
    assert "item_label_uniq" in text
    assert "code, label" in text
    assert "item_slug_alive_uniq" not in text
    assert all("alive" in m.hint for m in messages)
