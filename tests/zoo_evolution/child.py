"""One child process of tests/test_zoo_migrations.py.

    python -m tests.zoo_evolution.child evolve|squash SPEC.json REPORT.json

with ``DJANGO_SETTINGS_MODULE=tests.zoo_evolution.settings``. Model classes cannot be
redefined in a process, so each step of a schema's evolution is a process of its own: the
parent writes the step's ``models.py``, and the child makes the migration with the app's
own ``makemigrations`` (answering its rename questions "yes", as a user would), applies it
with ``migrate``, and reports what happened and what the database holds. The parent makes
the assertions: the report is plain JSON, every step's traceback included.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import json
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any


class StepFailed(Exception):
    """A step the following steps depend on failed (its traceback is in the report)."""


def run_step(report: dict[str, Any], name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)``; store its result, or its traceback, under
    ``report[name]``. A step marked ``required`` ends the run when it fails."""
    required = kwargs.pop("required", False)
    try:
        report[name] = {"ok": True, "result": fn(*args, **kwargs)}
    except BaseException as exc:  # SystemExit from a command too
        report[name] = {
            "ok": False,
            "error": "".join(traceback.format_exception(exc)),
            "summary": f"{type(exc).__name__}: {exc}",
        }
        if required:
            raise StepFailed(name) from exc
    return report[name].get("result")


def call(*args: Any, **options: Any) -> dict[str, Any]:
    """call_command with its output captured; SystemExit and CommandError become ``exit``
    (and the error's message joins stderr), as ``manage.py`` would report them."""
    from django.core.management import CommandError, call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        code = exc.returncode
        err.write(f"CommandError: {exc}\n")
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def call_ok(*args: Any, **options: Any) -> dict[str, Any]:
    """:func:`call` for a command the next steps need: a non-zero exit is an error."""
    result = call(*args, **options)
    if result["exit"]:
        raise RuntimeError(f"{args[0]} exited with {result['exit']}: {result['stderr']}")
    return result


# --- evolve: one step of the small tenant app ----------------------------------------------


def makemigrations(app: str) -> dict[str, Any]:
    """The app's makemigrations, interactive, answering every rename question "yes"."""
    from django.db.migrations import questioner
    from django.db.migrations.loader import MigrationLoader

    asked = []

    def ask_rename(self, model_name, old_name, new_name, field_instance):
        asked.append(f"field {model_name}.{old_name} -> {new_name}")
        return True

    def ask_rename_model(self, old_model_state, new_model_state):
        asked.append(f"model {old_model_state.name} -> {new_model_state.name}")
        return True

    cls = questioner.InteractiveMigrationQuestioner
    cls.ask_rename, cls.ask_rename_model = ask_rename, ask_rename_model
    before = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    result = call_ok("makemigrations", app, interactive=True, verbosity=1)
    importlib.invalidate_caches()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    new = sorted(set(loader.disk_migrations) - before)
    return {
        "asked": asked,
        "output": result["stdout"],
        "migrations": {
            name: [describe(op) for op in loader.disk_migrations[(label, name)].operations]
            for label, name in new
        },
    }


def describe(operation: Any) -> list[str]:
    """[class name, Django's description, the constraint's class if any]."""
    constraint = getattr(operation, "constraint", None)
    return [
        type(operation).__name__,
        operation.describe(),
        type(constraint).__name__ if constraint is not None else "",
    ]


def purge(tables: list[str]) -> list[str]:
    """Delete every row of ``tables`` as the superuser (row level security skipped)."""
    from django.db import connections

    with connections["setup"].cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {connections['setup'].ops.quote_name(table)}")
    return tables


def models_info(app: str) -> list[dict[str, Any]]:
    """What the installed models say the database should hold (read from the models,
    not from the constraints the app generates, which are what is under test)."""
    from django.apps import apps

    from django_prodpatterns.markers import is_tenant_scoped

    info = []
    for model in apps.get_app_config(app).get_models():
        opts = model._meta
        tenant = is_tenant_scoped(model)
        fks = [
            {
                "field": f.name,
                "column": f.column,
                "target_table": f.related_model._meta.db_table,
                "target_column": f.target_field.column,
                "target_is_tenant": is_tenant_scoped(f.related_model),
            }
            for f in opts.concrete_fields
            if f.many_to_one and f.name != "tenant"
        ]
        m2m = [
            {
                "field": f.name,
                "through_table": f.remote_field.through._meta.db_table,
                "ends": [
                    [
                        f.remote_field.through._meta.get_field(end).column,
                        f.remote_field.through._meta.get_field(end).related_model._meta.db_table,
                    ]
                    for end in (f.m2m_field_name(), f.m2m_reverse_field_name())
                ],
            }
            for f in opts.local_many_to_many
        ]
        info.append(
            {
                "label": opts.label,
                "model_name": opts.model_name,
                "table": opts.db_table,
                "tenant": tenant,
                "tenant_column": opts.get_field("tenant").column if tenant else None,
                "pk_column": opts.pk.column,
                "fks": fks,
                "m2m": m2m,
            }
        )
    return info


def catalog(app: str) -> dict[str, Any]:
    from django.db import connection

    from tests.zoo_evolution import catalog as cat

    tables = zoo_tables(app)
    with connection.cursor() as cursor:
        return {
            "tables": cat.table_snapshot(cursor, tables),
            "prefixed": cat.named_like(cursor, f"{app}_"),
            "functions": [row[0] for row in cat.functions(cursor)],
        }


def tenants() -> tuple[Any, Any]:
    from django_prodpatterns.models.tenancy import get_tenant_model

    model = get_tenant_model()
    return tuple(
        model._base_manager.using("default").get_or_create(
            slug=f"evo-{name}", defaults={"name": f"Tenant {name}"}
        )[0]
        for name in ("a", "b")
    )


def seed(spec: dict[str, Any]) -> dict[str, Any]:
    """Rows in both tenants that the later steps must find unchanged."""
    from django.apps import apps

    from django_prodpatterns.context import tenant_context

    app = spec["app"]
    ref, child, label = (apps.get_model(app, spec[k]) for k in ("ref", "child", "m2m_target"))
    made = {}
    for tenant in tenants():
        with tenant_context(tenant):
            r = ref.objects.using("app").create(name=f"seed-ref-{tenant.slug}")
            lab = label.objects.using("app").create(name=f"seed-label-{tenant.slug}")
            part = child.objects.using("app").create(
                name=f"seed-part-{tenant.slug}", **{spec["fk"]: r}
            )
            getattr(part, spec["m2m"]).add(lab)
            made[tenant.slug] = [part.pk, r.pk, lab.pk]
    return made


def seeded(spec: dict[str, Any]) -> dict[str, Any]:
    """The seeded rows as the application role sees them in their tenant."""
    from django.apps import apps

    from django_prodpatterns.context import tenant_context

    child = apps.get_model(spec["app"], spec["child"])
    found = {}
    for tenant in tenants():
        with tenant_context(tenant):
            found[tenant.slug] = [
                [
                    part.name,
                    getattr(getattr(part, spec["fk"]), "name", None),
                    sorted(x.name for x in getattr(part, spec["m2m"]).all()),
                ]
                for part in child.objects.using("app").filter(name__startswith="seed-")
            ]
    return found


def rejected(fn: Any) -> dict[str, Any]:
    """Run ``fn`` in a transaction on the application role; did the database refuse it?"""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic(using="app"):
            fn()  # a deferred foreign key is checked at commit, the end of this block
    except DatabaseError as exc:
        cause = exc.__cause__
        diag = getattr(cause, "diag", None)
        return {
            "rejected": True,
            "error": f"{type(cause or exc).__name__}: {str(exc).strip()}",
            "constraint": getattr(diag, "constraint_name", None),
        }
    return {"rejected": False}


def behaviour(spec: dict[str, Any]) -> dict[str, Any]:
    """As the application role, in tenant A: references and links within the tenant are
    accepted, to tenant B's rows refused; ORM updates are audited under the model's label."""
    from django.apps import apps

    from django_prodpatterns.context import tenant_context
    from django_prodpatterns.models.audit import AuditLog

    app, fk = spec["app"], spec["fk"]
    ref, child, label = (apps.get_model(app, spec[k]) for k in ("ref", "child", "m2m_target"))
    target = child._meta.get_field(fk).related_model
    a, b = tenants()
    tag = uuid.uuid4().hex[:8]
    rows = {}
    for tenant in (a, b):
        with tenant_context(tenant):
            rows[tenant.slug] = {
                "ref": ref.objects.using("app").create(name=f"ref-{tag}"),
                "target": target.objects.using("app").create(name=f"target-{tag}"),
                "label": label.objects.using("app").create(name=f"label-{tag}"),
            }
    mine, theirs = rows[a.slug], rows[b.slug]
    field = child._meta.get_field(fk)
    result = {}
    made = {}

    def create_part() -> None:
        made["part"] = child.objects.using("app").create(
            name=f"part-{tag}", **{field.attname: mine["target"].pk}
        )

    with tenant_context(a):
        result["same_tenant_reference"] = rejected(create_part)
        if result["same_tenant_reference"]["rejected"]:
            return result  # the cases below need that row
        part = made["part"]
        result["cross_tenant_reference"] = rejected(
            lambda: child.objects.using("app").create(
                name=f"leak-{tag}", **{field.attname: theirs["target"].pk}
            )
        )
        result["cross_tenant_update"] = rejected(
            lambda: (
                child.objects.using("app")
                .filter(pk=part.pk)
                .update(**{field.attname: theirs["target"].pk})
            )
        )
        links = getattr(part, spec["m2m"])
        result["same_tenant_link"] = rejected(lambda: links.add(mine["label"].pk))
        result["cross_tenant_link"] = rejected(lambda: links.add(theirs["label"].pk))

        last = AuditLog.objects.using("app").order_by("-id").values_list("id", flat=True).first()
        mine["ref"].name = f"ref-{tag}-changed"
        mine["ref"].save(using="app")
        part.name = f"part-{tag}-changed"
        part.save(using="app")
        # Every entry the two saves wrote (the application role sees its tenant's).
        entries = AuditLog.objects.using("app").filter(id__gt=last or 0)
        result["audit_entries"] = sorted(
            [e.model, e.object_pk, e.action, sorted(e.changes or {})] for e in entries
        )
        result["audited"] = [
            [ref._meta.label, str(mine["ref"].pk)],
            [child._meta.label, str(part.pk)],
        ]
    return result


def evolve(spec: dict[str, Any], report: dict[str, Any]) -> None:
    app = spec["app"]
    if spec.get("purge"):
        run_step(report, "purge", purge, spec["purge"], required=True)
    run_step(report, "makemigrations", makemigrations, app, required=True)
    run_step(report, "migrate", call_ok, "migrate", interactive=False, verbosity=1, required=True)
    if spec.get("seed"):
        run_step(report, "seed", seed, spec, required=True)
    run_step(report, "models", models_info, app)
    run_step(report, "catalog", catalog, app)
    run_step(report, "seeded", seeded, spec)
    run_step(report, "behaviour", behaviour, spec)
    run_step(report, "rls_check", call, "prodpatterns", "rls", "check")
    run_step(
        report,
        "makemigrations_check",
        call,
        "makemigrations",
        app,
        check=True,
        dry_run=True,
        interactive=False,
    )


# --- squash: the zoo's migrations, squashed and applied to an empty database ----------------


def squash(spec: dict[str, Any], report: dict[str, Any]) -> None:
    from django.db.migrations.loader import MigrationLoader

    app = spec["app"]
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = loader.graph.leaf_nodes(app)
    report["leaves"] = [name for _, name in leaves]
    first = min(name for label, name in loader.disk_migrations if label == app)
    run_step(
        report,
        "squashmigrations",
        call_ok,
        "squashmigrations",
        app,
        first.split("_")[0],
        leaves[0][1],
        interactive=False,
        verbosity=1,
        required=True,
    )
    importlib.invalidate_caches()
    run_step(report, "ported", port_functions, app, required=True)
    importlib.invalidate_caches()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    report["squashed"] = [
        [name, [f"{label}.{n}" for label, n in migration.replaces]]
        for (label, name), migration in sorted(loader.disk_migrations.items())
        if label == app and migration.replaces
    ]
    run_step(report, "migrate", call_ok, "migrate", interactive=False, verbosity=1, required=True)
    run_step(report, "applied", applied, app)
    run_step(report, "catalog", zoo_catalog, app)
    run_step(
        report,
        "makemigrations_check",
        call,
        "makemigrations",
        app,
        check=True,
        dry_run=True,
        interactive=False,
    )


PORTING = "# RunPython operations to refer to the local versions:\n"


def port_functions(app: str) -> list[str]:
    """Do what ``squashmigrations`` leaves to the user ("Manual porting required"): copy
    the module-level code of the migrations it names (their RunPython functions and what
    these use) into the squashed migration, and point its operations at the copies.

    Returns the migration modules ported (none when nothing needed it)."""
    from django.db.migrations.loader import MigrationLoader

    package = importlib.import_module(MigrationLoader.migrations_module(app)[0])
    ported = []
    for path in sorted(Path(package.__path__[0]).glob("*_squashed_*.py")):
        text = path.read_text()
        if PORTING not in text:
            continue
        head, rest = text.split(PORTING, 1)
        head = head[: head.rindex("# Functions from the following migrations")]
        lines = rest.splitlines(keepends=True)
        modules = []
        while lines and lines[0].startswith("# "):
            modules.append(lines.pop(0)[2:].strip())
        body, copied, names = "".join(lines), [], set()
        for module in modules:
            source = Path(importlib.util.find_spec(module).origin).read_text()
            for node in ast.parse(source).body:
                if (
                    (isinstance(node, ast.ClassDef) and node.name == "Migration")
                    or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
                    or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
                ):
                    continue
                defined = top_level_names(node)
                if defined & names:
                    raise RuntimeError(f"{module} defines {defined & names} again: port by hand")
                names |= defined
                copied.append(ast.get_source_segment(source, node))
            body = body.replace(f"{module}.", "")
            ported.append(module)
        path.write_text(head + "\n" + "\n\n\n".join(copied) + "\n\n" + body)
    return ported


def top_level_names(node: ast.stmt) -> set[str]:
    """The names a module-level statement defines (imports are copied as they are:
    importing a name twice is harmless)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def applied(app: str) -> list[str]:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(
        name for label, name in MigrationRecorder(connection).applied_migrations() if label == app
    )


def zoo_catalog(app: str) -> dict[str, Any]:
    from django.db import connection

    from tests.zoo_evolution import catalog as cat

    with connection.cursor() as cursor:
        return cat.table_snapshot(cursor, zoo_tables(app))


def zoo_tables(app: str) -> list[str]:
    """The tables of an app's models, many-to-many tables and unmanaged models included."""
    from django.apps import apps

    models = apps.get_app_config(app).get_models(include_auto_created=True)
    return sorted({m._meta.db_table for m in models if not m._meta.proxy})


def main(argv: list[str]) -> int:
    command, spec_path, report_path = argv
    spec = json.loads(Path(spec_path).read_text())
    import django

    django.setup()
    report: dict[str, Any] = {"command": command, "spec": spec}
    try:
        {"evolve": evolve, "squash": squash}[command](spec, report)
    except StepFailed:
        pass
    except BaseException:
        report["crashed"] = traceback.format_exc()
        raise
    finally:
        Path(report_path).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
