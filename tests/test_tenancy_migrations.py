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


# --- a to_field key changing under the foreign keys that reference it -------------------------


def _states(code_field, to_field):
    """A Supplier whose ``code_field`` a tenant foreign key of Part references (``to_field``
    set) or not; the constraints are those the app generates for that shape."""
    from django.db import models
    from django.db.migrations.state import ModelState

    tenant = ("tenant", models.ForeignKey("prodpatterns.tenant", models.PROTECT, related_name="+"))
    supplier_constraints = [
        models.UniqueConstraint(fields=["tenant", "id"], name="evo_s_tenant_key")
    ]
    if to_field:
        supplier_constraints.append(
            models.UniqueConstraint(
                fields=["tenant", code_field], name=f"evo_s_tenant_{code_field}_key"
            )
        )
    fk = models.ForeignKey("evo.supplier", models.CASCADE, to_field=to_field and code_field)
    state = ProjectState()
    state.add_model(
        ModelState("prodpatterns", "tenant", [("id", models.BigAutoField(primary_key=True))])
    )
    state.add_model(
        ModelState(
            "evo",
            "supplier",
            [
                ("id", models.BigAutoField(primary_key=True)),
                tenant,
                (code_field, models.CharField(max_length=20, unique=True)),
            ],
            options={"constraints": supplier_constraints},
        )
    )
    state.add_model(
        ModelState(
            "evo",
            "part",
            [("id", models.BigAutoField(primary_key=True)), tenant, ("supplier", fk)],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=["tenant", "id"], name="evo_p_tenant_key"),
                    TenantForeignKey(
                        name="evo_p_supplier_tenant_fk", field="supplier", tenant_field="tenant"
                    ),
                ]
            },
        )
    )
    return state


def _changes(before, after):
    from django.db.migrations.questioner import MigrationQuestioner

    detector = TenantAwareAutodetector(
        before, after, MigrationQuestioner(defaults={"ask_rename": True})
    )
    return [
        op for migration in detector._detect_changes().get("evo", []) for op in migration.operations
    ]


def test_renaming_a_to_field_target_renames_its_tenant_key_in_place():
    """Dropping the (tenant, code) key would fail: Part's tenant foreign key depends on its
    index. The rename keeps the index (ALTER TABLE ... RENAME CONSTRAINT)."""
    from django_prodpatterns.db.operations import RenameGeneratedConstraint

    ops = _changes(_states("code", True), _states("sku", True))
    kinds = [type(op).__name__ for op in ops]
    assert "RenameField" in kinds
    assert "RemoveConstraint" not in kinds
    renames = [op for op in ops if isinstance(op, RenameGeneratedConstraint)]
    assert [(r.old_name, r.new_name) for r in renames] == [
        ("evo_s_tenant_code_key", "evo_s_tenant_sku_key")
    ]
    assert list(renames[0].constraint.fields) == ["tenant", "sku"]


def test_a_to_field_key_goes_only_after_the_tenant_foreign_key_that_references_it():
    ops = _changes(_states("code", True), _states("code", False))
    removed = [op.name for op in ops if isinstance(op, operations.RemoveConstraint)]
    assert removed.index("evo_p_supplier_tenant_fk") < removed.index("evo_s_tenant_code_key")
    added = [op.constraint.name for op in ops if isinstance(op, operations.AddConstraint)]
    assert added == ["evo_p_supplier_tenant_fk"]  # re-created against the primary key
