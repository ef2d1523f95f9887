"""makemigrations orders the generated tenant DDL so that it runs forwards and backwards."""

from django.apps import apps
from django.core.management import get_commands
from django.db.migrations import operations
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState

from django_prodpatterns.db.autodetector import TenantAwareAutodetector
from django_prodpatterns.db.constraints import TenantForeignKey


def operations_of(app_label):
    detector = TenantAwareAutodetector(
        ProjectState(), ProjectState.from_apps(apps), NonInteractiveMigrationQuestioner()
    )
    changes = detector._detect_changes()
    return [op for migration in changes[app_label] for op in migration.operations]


def test_every_tenant_foreign_key_comes_after_the_keys_it_references():
    ops = operations_of("composed")
    added = [op.constraint.name for op in ops if isinstance(op, operations.AddConstraint)]
    references = [
        op.constraint.name
        for op in ops
        if isinstance(op, operations.AddConstraint) and isinstance(op.constraint, TenantForeignKey)
    ]
    assert references == ["composed_invoiceline_invoice_tenant_fk"]
    assert added.index("composed_invoice_tenant_key") < added.index(references[0])
    assert added[-len(references) :] == references


def test_the_app_provides_both_commands_that_share_the_autodetector():
    from django.core.management import load_command_class

    for name in ("makemigrations", "migrate"):
        assert get_commands()[name] == "django_prodpatterns"
        assert load_command_class("django_prodpatterns", name).autodetector is (
            TenantAwareAutodetector
        )
