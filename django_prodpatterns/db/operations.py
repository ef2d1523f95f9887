"""Migration operations the app's ``makemigrations`` writes for its generated DDL."""

from __future__ import annotations

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.state import ProjectState


class RenameGeneratedConstraint(Operation):
    """Rename a constraint whose definition stays the same (a key, a policy, a tenant key).

    The generated DDL is named after the model, so renaming a model renames it. Dropping
    and re-creating would rebuild the (tenant, pk) key's index and fail outright while the
    composite foreign keys of other tables depend on it; ``ALTER ... RENAME`` keeps the
    object, its index and everything that depends on it.
    """

    reduces_to_sql = True
    reversible = True
    category = OperationCategory.ALTERATION

    def __init__(self, model_name: str, old_name: str, constraint: models.BaseConstraint) -> None:
        self.model_name = model_name
        self.old_name = old_name
        self.constraint = constraint  # the constraint as it is after (a field may be renamed)

    @property
    def new_name(self) -> str:
        return self.constraint.name

    def deconstruct(self) -> tuple[str, list[object], dict[str, object]]:
        kwargs = {"model_name": self.model_name, "old_name": self.old_name}
        return self.__class__.__name__, [], {**kwargs, "constraint": self.constraint}

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        model_state = state.models[app_label, self.model_name_lower]
        model_state.options["constraints"] = [
            self.constraint if c.name == self.old_name else c
            for c in model_state.options["constraints"]
        ]
        state.reload_model(app_label, self.model_name_lower, delay=True)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._rename_in_database(app_label, schema_editor, from_state, self.old_name, self.new_name)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._rename_in_database(app_label, schema_editor, from_state, self.new_name, self.old_name)

    def _rename_in_database(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        state: ProjectState,
        old: str,
        new: str,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        constraint = next((c for c in model._meta.constraints if c.name == old), None)
        if constraint is None:
            raise ValueError(f"{model._meta.label} has no constraint {old!r} to rename.")
        if hasattr(constraint, "rename_statements"):
            statements = constraint.rename_statements(model, schema_editor, new)
        else:  # a plain constraint of the table (the generated UNIQUE (tenant, key))
            quote = schema_editor.quote_name
            statements = [
                f"ALTER TABLE {quote(model._meta.db_table)} RENAME CONSTRAINT"
                f" {quote(old)} TO {quote(new)}"
            ]
        for statement in statements:
            schema_editor.execute(statement)

    def describe(self) -> str:
        return f"Rename constraint {self.old_name} on {self.model_name} to {self.new_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rename_{self.old_name.lower()}_{self.new_name.lower()}"[:60]


def renameable(removed: models.BaseConstraint, added: models.BaseConstraint) -> bool:
    """True when ``added`` is ``removed`` under another name (and a rename is enough)."""
    if type(removed) is not type(added):
        return False
    if isinstance(added, models.UniqueConstraint):
        # Only a plain UNIQUE (columns) is a table constraint that RENAME CONSTRAINT finds;
        # PostgreSQL keeps a conditional, expression, INCLUDE or opclass one as an index.
        # django-stubs lacks the attributes include and opclasses (the arguments it has)
        if added.condition or added.expressions or added.include or added.opclasses:  # type: ignore[attr-defined]
            return False
    elif not hasattr(added, "rename_statements"):
        return False
    _, old_args, old_kwargs = removed.deconstruct()
    _, new_args, new_kwargs = added.deconstruct()
    old_kwargs.pop("name"), new_kwargs.pop("name")
    return old_args == new_args and old_kwargs == new_kwargs
