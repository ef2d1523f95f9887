"""Migration operations that lock a busy table or break the code still running.

Each rule has an id, why it hurts, and what to do instead. A table created in the same
migration is empty and unused, so operations on it are never flagged. Allow a finding
per migration with a reason, in the migration::

    class Migration(migrations.Migration):
        prodpatterns_lint_allow = {"index-not-concurrent": "the table has 40 rows"}

or, for migrations you cannot edit, ``PRODPATTERNS["MIGRATION_LINT_ALLOW"] =
{"app_label.0007_name": {"rule-id": "reason"}}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

from ..conf import app_settings
from ..db.constraints import TenantForeignKey

RULES: dict[str, tuple[str, str]] = {
    "not-null-without-default": (
        "adding a NOT NULL column without a database default breaks the running code's "
        "INSERTs, which do not know the column, once Django drops its temporary default",
        "give the field db_default=..., or add it with null=True and make it NOT NULL in a "
        "later release",
    ),
    "index-not-concurrent": (
        "CREATE INDEX blocks every write to the table until the index is built",
        "use AddIndexConcurrently (django.contrib.postgres.operations) in a migration with "
        "atomic = False",
    ),
    "unique-not-concurrent": (
        "a unique constraint builds its index while blocking every write to the table",
        "CREATE UNIQUE INDEX CONCURRENTLY (atomic = False), then ALTER TABLE ... ADD "
        "CONSTRAINT ... UNIQUE USING INDEX",
    ),
    "column-type-change": (
        "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock, and "
        "the running code may not handle the new type",
        "add a new column, write both, backfill in batches, switch reads, then drop the old",
    ),
    "rename": (
        "the code still running reads the old name and fails as soon as the rename commits",
        "expand/contract: add the new name, deploy code that uses it, drop the old later",
    ),
    "drop": (
        "the code still running reads the column or table and fails once it is gone",
        "deploy code that no longer uses it first (remove the field from the model and keep "
        "the column), and drop it in a later release",
    ),
    "constraint-validated": (
        "adding a foreign key or check constraint scans the whole table while holding a "
        "lock that blocks writes",
        "add it NOT VALID (RunSQL), then VALIDATE CONSTRAINT in a later migration, which "
        "does not block writes",
    ),
    "data-in-schema-migration": (
        "a data migration in the same transaction as schema changes holds their locks "
        "for as long as the data takes",
        "put RunPython in a migration of its own, and batch it",
    ),
}


@dataclass(frozen=True)
class Finding:
    migration: str
    operation: str
    rule: str
    allowed: str | None = None  # the reason, when the migration allows it

    @property
    def why(self) -> str:
        return RULES[self.rule][0]

    @property
    def instead(self) -> str:
        return RULES[self.rule][1]


def lint(
    app_label: str | None = None, since: str | None = None, using: str = "default"
) -> list[Finding]:
    """Findings for the migrations on disk (of ``app_label``, after ``since``)."""
    connection = connections[using]
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    wanted = {app_label} if app_label else _project_apps()
    nodes = [
        node
        for leaf in loader.graph.leaf_nodes(app_label)
        for node in loader.graph.forwards_plan(leaf)
        if node[0] in wanted
    ]
    nodes = list(dict.fromkeys(nodes))
    if since is not None:
        names = [name for _, name in nodes]
        matches = [name for name in names if name == since or name.startswith(f"{since}_")]
        if not matches:
            raise LookupError(f"No migration {since!r} in {app_label}.")
        nodes = nodes[names.index(matches[0]) + 1 :]
    findings: list[Finding] = []
    for node in nodes:
        migration = loader.graph.nodes[node]
        before = loader.project_state(node, at_end=False)
        findings += _lint_migration(migration, before, connection)
    return findings


def _project_apps() -> set[str]:
    """Every installed app but Django's own, whose migrations ran long ago everywhere."""
    return {
        config.label for config in apps.get_app_configs() if not config.name.startswith("django.")
    }


def _allowance(migration: Migration) -> dict[str, str]:
    label = f"{migration.app_label}.{migration.name}"
    return {
        **app_settings.MIGRATION_LINT_ALLOW.get(label, {}),
        **getattr(migration, "prodpatterns_lint_allow", {}),
    }


def _lint_migration(
    migration: Migration, state: ProjectState, connection: BaseDatabaseWrapper
) -> list[Finding]:
    app = migration.app_label
    created = {op.name_lower for op in migration.operations if isinstance(op, ops.CreateModel)}
    schema = [op for op in migration.operations if not isinstance(op, ops.RunPython)]
    allowed = _allowance(migration)
    found = []
    for operation in migration.operations:
        model = getattr(operation, "model_name_lower", None) or getattr(
            operation, "name_lower", None
        )
        existing = model not in created
        for rule in _rules(operation, app, state, connection, existing, bool(schema)):
            found.append(
                Finding(
                    f"{app}.{migration.name}",
                    operation.describe(),
                    rule,
                    allowed.get(rule),
                )
            )
        operation.state_forwards(app, state)
    return found


def _rules(
    operation: Operation,
    app: str,
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    existing: bool,
    has_schema_ops: bool,
) -> Iterator[str]:
    if isinstance(operation, ops.RunPython):
        if has_schema_ops:
            yield "data-in-schema-migration"
        return
    if isinstance(operation, ops.RenameField | ops.RenameModel | ops.AlterModelTable):
        yield "rename"
        return
    if isinstance(operation, ops.RemoveField | ops.DeleteModel):
        yield "drop"
        return
    if not existing:
        return
    if isinstance(operation, ops.AddField):
        yield from _added_field(operation.field)
    elif isinstance(operation, ops.AlterField):
        yield from _altered_field(operation, app, state, connection)
    elif isinstance(operation, ops.AddIndex) and not _concurrent(operation):
        yield "index-not-concurrent"
    elif isinstance(operation, ops.AddConstraint):
        yield from _added_constraint(operation.constraint)
    elif isinstance(operation, ops.AlterUniqueTogether) and operation.option_value:
        yield "unique-not-concurrent"
    elif isinstance(operation, ops.AlterIndexTogether) and operation.option_value:
        yield "index-not-concurrent"


def _concurrent(operation: Operation) -> bool:
    try:
        from django.contrib.postgres.operations import AddIndexConcurrently
    except ImportError:  # pragma: no cover - psycopg missing
        return False
    return isinstance(operation, AddIndexConcurrently)


def _added_field(field: models.Field) -> Iterator[str]:
    if field.many_to_many:
        return
    if not field.null and field.db_default is NOT_PROVIDED:
        yield "not-null-without-default"
    if field.unique and not field.primary_key:
        yield "unique-not-concurrent"
    elif field.db_index:  # type: ignore[attr-defined]  # not in django-stubs (an argument)
        yield "index-not-concurrent"
    if field.is_relation and getattr(field, "db_constraint", False):
        yield "constraint-validated"


def _altered_field(
    operation: ops.AlterField, app: str, state: ProjectState, connection: BaseDatabaseWrapper
) -> Iterator[str]:
    old = state.models[app, operation.model_name_lower].fields[operation.name]
    new = operation.field
    if old.db_column != new.db_column:
        yield "rename"
    try:
        old_type, new_type = old.db_type(connection), new.db_type(connection)
    except (AttributeError, ValueError):  # a relation whose target is not resolved here
        old_type = new_type = None
    if old_type != new_type:
        yield "column-type-change"
    if old.null and not new.null:
        yield "not-null-without-default"
    if new.unique and not old.unique:
        yield "unique-not-concurrent"
    elif new.db_index and not old.db_index:  # type: ignore[attr-defined]  # as above
        yield "index-not-concurrent"


def _added_constraint(constraint: models.BaseConstraint) -> Iterator[str]:
    if isinstance(constraint, models.UniqueConstraint):
        yield "unique-not-concurrent"
    elif isinstance(constraint, models.CheckConstraint | TenantForeignKey):
        yield "constraint-validated"
