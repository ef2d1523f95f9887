"""``makemigrations`` that keeps the generated tenant DDL valid as the schema changes.

- **Order.** A :class:`~django_prodpatterns.db.constraints.TenantForeignKey` references
  the target table's ``UNIQUE (tenant, pk)`` key, which is another ``AddConstraint`` of
  the same migration when both models are new. Django orders constraints of different
  models freely, so the foreign key could come first and fail. Every tenant foreign key
  moves to the end of its app's operations: nothing depends on it, and by then every key
  of that app exists.
- **Renames.** The generated DDL is named after its model, so renaming a model makes
  Django drop and re-create each piece, which fails for the ``(tenant, pk)`` key while
  another table's tenant foreign key depends on its index. A removal and an addition that
  differ only by name become one :class:`~django_prodpatterns.db.operations.
  RenameGeneratedConstraint`.
- **A new target.** A tenant foreign key's constraint names its field, not its target;
  when ``AlterField`` points the field at another tenant model (or another ``to_field``),
  the key is dropped before and re-created after, against the new target.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.migrations import operations
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState

from ..markers import TENANT_FIELD
from .constraints import TenantForeignKey
from .operations import RenameGeneratedConstraint, renameable


def _is_tenant_key_reference(operation: object) -> bool:
    return isinstance(operation, operations.AddConstraint) and isinstance(
        operation.constraint, TenantForeignKey
    )


_Operation = TypeVar("_Operation", bound=Operation)


class TenantAwareAutodetector(MigrationAutodetector):
    generated_operations: dict[str, list[Operation]]  # not in django-stubs

    def _sort_migrations(self) -> None:
        super()._sort_migrations()  # type: ignore[misc]  # not in django-stubs
        for app_label, ops in self.generated_operations.items():
            ops = self._renames(app_label, ops)
            ops = self._retargeted_keys(app_label, ops)
            ops = self._keys_after_references(app_label, ops)
            last = [op for op in ops if _is_tenant_key_reference(op)]
            rest = [op for op in ops if not _is_tenant_key_reference(op)]
            self.generated_operations[app_label] = rest + last

    def _old_model_state(self, app_label: str, model_name: str) -> ModelState | None:
        old_name = self.renamed_models.get((app_label, model_name), model_name)
        return self.from_state.models.get((app_label, old_name))

    def _renames(self, app_label: str, ops: list[Operation]) -> list[Operation]:
        """Pair each removed constraint with an added one that differs only by name."""
        added = [op for op in ops if isinstance(op, operations.AddConstraint)]
        result: list[Operation] = []
        paired: set[int] = set()
        for op in ops:
            if isinstance(op, operations.RemoveConstraint):
                removed = self._removed_constraint(app_label, op)
                if removed is not None:
                    removed = self._with_renamed_fields(app_label, op.model_name_lower, removed)
                match = next(
                    (
                        a
                        for a in added
                        if id(a) not in paired
                        and a.model_name_lower == op.model_name_lower
                        and removed is not None
                        and renameable(removed, a.constraint)
                    ),
                    None,
                )
                if match is not None:
                    paired.add(id(match))
                    op = _with_deps(
                        RenameGeneratedConstraint(op.model_name, op.name, match.constraint), op
                    )
            result.append(op)
        return [op for op in result if id(op) not in paired]

    def _removed_constraint(
        self, app_label: str, op: operations.RemoveConstraint
    ) -> models.BaseConstraint | None:
        """The constraint a RemoveConstraint removes, as the old state has it."""
        old_state = self._old_model_state(app_label, op.model_name_lower)
        constraints = old_state.options.get("constraints", []) if old_state else []
        return next((c for c in constraints if c.name == op.name), None)

    def _with_renamed_fields(
        self, app_label: str, model_name: str, constraint: models.BaseConstraint
    ) -> models.BaseConstraint:
        """``constraint`` with its fields under the names RenameField gives them."""
        renamed = {
            old: new
            for (app, model, new), old in self.renamed_fields.items()
            if (app, model) == (app_label, model_name)
        }
        fields = getattr(constraint, "fields", ())
        if not renamed or not fields or not renamed.keys() & set(fields):
            return constraint
        _, args, kwargs = constraint.deconstruct()
        kwargs["fields"] = tuple(renamed.get(name, name) for name in fields)
        return type(constraint)(*args, **kwargs)

    def _keys_after_references(self, app_label: str, ops: list[Operation]) -> list[Operation]:
        """Remove a (tenant, key) unique key only after the tenant foreign keys that may
        reference it (its index cannot go while one does)."""
        references = [
            i
            for i, op in enumerate(ops)
            if isinstance(op, operations.RemoveConstraint)
            and isinstance(self._removed_constraint(app_label, op), TenantForeignKey)
        ]
        if not references:
            return ops
        last = references[-1]
        moved = [
            op
            for op in ops[:last]
            if isinstance(op, operations.RemoveConstraint)
            and _is_tenant_key(self._removed_constraint(app_label, op))
        ]
        if not moved:
            return ops
        kept = [op for op in ops if all(op is not m for m in moved)]
        at = kept.index(ops[last]) + 1
        return kept[:at] + moved + kept[at:]

    def _retargeted_keys(self, app_label: str, ops: list[Operation]) -> list[Operation]:
        """Drop and re-create the tenant key of a field that now points elsewhere."""
        result: list[Operation] = []
        for op in ops:
            key = self._retargeted_key(app_label, op)
            if key is not None and isinstance(op, operations.AlterField):  # (only those have one)
                result += [
                    _with_deps(
                        operations.RemoveConstraint(model_name=op.model_name, name=key.name), op
                    ),
                    op,
                    _with_deps(
                        operations.AddConstraint(model_name=op.model_name, constraint=key), op
                    ),
                ]
            else:
                result.append(op)
        return result

    def _retargeted_key(self, app_label: str, op: Operation) -> TenantForeignKey | None:
        if not isinstance(op, operations.AlterField):
            return None
        old_state = self._old_model_state(app_label, op.model_name_lower)
        new_state = self.to_state.models.get((app_label, op.model_name_lower))
        if old_state is None or new_state is None or op.name not in old_state.fields:
            return None
        old_field, new_field = old_state.fields[op.name], op.field
        old_rel, new_rel = old_field.remote_field, new_field.remote_field
        if old_rel is None or new_rel is None:  # not both relations (is_relation)
            return None
        old_target = (_label(old_rel.model), getattr(old_field, "to_fields", None))
        new_target = (_label(new_rel.model), getattr(new_field, "to_fields", None))
        if self._renamed_label(old_target[0]) == new_target[0] and old_target[1] == new_target[1]:
            return None
        keys = [
            c
            for c in new_state.options.get("constraints", [])
            if isinstance(c, TenantForeignKey) and c.field == op.name
        ]
        had_key = any(
            isinstance(c, TenantForeignKey) and c.field == op.name
            for c in old_state.options.get("constraints", [])
        )
        return keys[0] if keys and had_key else None

    def _renamed_label(self, label: str) -> str:
        app_label, _, model_name = label.partition(".")
        for (new_app, new_model), old_model in self.renamed_models.items():
            if new_app == app_label and old_model == model_name:
                return f"{new_app}.{new_model}"
        return label


def _is_tenant_key(constraint: object) -> bool:
    """A generated (tenant, key) unique key, which tenant foreign keys reference."""
    return (
        isinstance(constraint, models.UniqueConstraint)
        and len(constraint.fields) == 2
        and constraint.fields[0] == TENANT_FIELD
        and constraint.condition is None
    )


def _with_deps(new: _Operation, like: Operation) -> _Operation:
    """``new`` with the dependencies the autodetector recorded for ``like``."""
    # The autodetector's own bookkeeping (add_operation()), not in django-stubs.
    new._auto_deps = list(getattr(like, "_auto_deps", []))  # type: ignore[attr-defined]
    return new


def _label(model: type[models.Model] | str) -> str:
    """``app_label.model_name`` (lower case) of a model class or a lazy reference."""
    if isinstance(model, str):
        return model.lower()
    return model._meta.label_lower
