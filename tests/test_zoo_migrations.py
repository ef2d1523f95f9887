"""Migrations over the zoo: the generated DDL (row level security policies, (tenant, pk)
keys, (tenant, fk) foreign keys, audit triggers) lives through the whole life of a schema.

- ``makemigrations --check`` is clean for the zoo.
- ``migrate menagerie zero`` leaves no policy, trigger, constraint or relation of the zoo
  behind and keeps the app's shared functions; migrating forward again restores exactly the
  catalog there was (compared object by object, definitions included).
- A small tenant app evolves through the app's own ``makemigrations`` and ``migrate`` in
  child processes (a model class cannot be redefined in a process): a tenant foreign key
  renamed, then altered (PROTECT, nullable); the model it references renamed; the model
  that has it renamed; the key pointed at another model; a many-to-many renamed. Rename
  questions are answered "yes", as a user would. After each step the catalog must say what
  the models say (and hold nothing left from the old names), the rows must still be there,
  the application role must still be unable to reference or link another tenant's rows,
  ORM updates must be audited under the model's current label, and
  ``prodpatterns rls check`` and ``makemigrations --check`` must be clean.
- The zoo's migrations squashed (into a copy, never into tests/zoo/migrations; the
  RunPython functions copied over as ``squashmigrations`` asks a user to) apply on an empty
  database and give the same catalog as the migrations they replace.

The children use a database of their own on this run's server (the embedded one, or the one
``DATABASE_URL`` names): they start no server, and they run at the same time, next to the
tests of this process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from psycopg import sql as pgsql

from django_prodpatterns.db.constraints import TENANT_FUNCTION
from django_prodpatterns.db.generated import is_tenant_model
from django_prodpatterns.devserver import embedded
from django_prodpatterns.ops.roles import (
    APP_ROLE,
    CROSS_TENANT_ROLE,
    OWNER_ROLE,
    ensure_database,
    grant_app_privileges,
)
from django_prodpatterns.testing import assert_tenant_isolation
from tests.zoo import models as zoo
from tests.zoo_evolution import catalog

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
STAGES = HERE / "zoo_evolution" / "stages"
ZOO = "menagerie"
EVO = "zooevo"  # the small app that evolves, written to a temporary folder
CHILD_TIMEOUT = 300


def zoo_tables() -> list[str]:
    """The zoo's tables: its models', their many-to-many tables, the unmanaged one."""
    models = apps.get_app_config(ZOO).get_models(include_auto_created=True)
    return sorted({m._meta.db_table for m in models if not m._meta.proxy})


def snapshot(alias: str = "default") -> dict[str, Any]:
    with connections[alias].cursor() as cursor:
        return catalog.table_snapshot(cursor, zoo_tables())


def public_functions(alias: str = "default") -> list[list[str]]:
    with connections[alias].cursor() as cursor:
        return catalog.functions(cursor)


def run(*args: Any, **options: Any) -> str:
    """A management command in this process; its output."""
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


# --- makemigrations --check -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_zoos_migrations_match_its_models():
    output = run("makemigrations", ZOO, check=True, dry_run=True, interactive=False)
    assert f"No changes detected in app '{ZOO}'" in output


# --- migrate zero and back ------------------------------------------------------------------


def _grant_app_roles() -> None:
    """What tests/conftest.py does once the test database is migrated."""
    owner = connections["default"]
    owner.ensure_connection()
    for role in (APP_ROLE, CROSS_TENANT_ROLE):
        grant_app_privileges(owner.connection, role.name)


@pytest.mark.django_db(transaction=True, databases=["default", "app"])
def test_migrating_the_zoo_to_zero_and_back_restores_exactly_its_catalog(tenant_pair):
    tables = zoo_tables()
    before, functions_before = snapshot(), public_functions()
    # The snapshot is not vacuous: it holds every kind of generated object.
    assert len(before["tables"]) == len(tables)
    flags = {name: (rls, force) for name, _, rls, force in before["tables"]}
    tenant_tables = [
        m._meta.db_table
        for m in apps.get_app_config(ZOO).get_models()
        if is_tenant_model(m) and m._meta.managed
    ]
    assert tenant_tables and all(flags[t] == (True, True) for t in tenant_tables), flags
    assert any(p[1] == "menagerie_shelf_tenant_rls" for p in before["policies"])
    assert any(p[1] == "menagerie_shelf_badges_rls" for p in before["policies"])
    assert any(t[1] == "menagerie_shelf_audit_upd" for t in before["triggers"])
    assert any(c[1] == "menagerie_crate_aisle_tenant_fk" for c in before["constraints"])
    assert any(c[1] == "menagerie_aisle_tenant_code_key" for c in before["constraints"])
    assert "prodpatterns_audit" in [f[0] for f in functions_before]

    migrated_back = False
    try:
        run("migrate", ZOO, "zero", interactive=False)
        at_zero, functions_at_zero = snapshot(), public_functions()
        with connections["default"].cursor() as cursor:
            leftovers = catalog.named_like(cursor, f"{ZOO}_")
        run("migrate", ZOO, interactive=False)
        migrated_back = True
    finally:
        if not migrated_back:  # leave the session's database usable for the tests after this
            run("migrate", interactive=False)
        _grant_app_roles()

    assert at_zero == {key: [] for key in before}, "zoo tables or their objects survived zero"
    assert leftovers == {key: [] for key in leftovers}, "objects named after the zoo survived"
    assert functions_at_zero == functions_before, "zero changed or dropped a shared function"

    after = snapshot()
    for key in before:  # one kind at a time, for a readable difference
        assert after[key] == before[key], f"{key} differ after migrating back"
    assert public_functions() == functions_before
    assert "matches the models" in run("prodpatterns", "rls", "check")

    # The application role still has its privileges on the recreated tables, and the
    # recreated policies and keys still isolate.
    def make_shelf(tenant):
        aisle = zoo.Aisle.objects.using("app").create(code=uuid.uuid4().hex[:8], label="a")
        return zoo.Shelf(aisle=aisle, label="s")

    assert_tenant_isolation(
        zoo.Shelf,
        make_shelf,
        tenants=tenant_pair,
        using="app",
        reference=lambda shelf: zoo.Bin(shelf=shelf),
    )


# --- child processes ------------------------------------------------------------------------


def _server() -> dict[str, Any]:
    """This run's server, as its superuser (or the role DATABASE_URL names)."""
    entry = getattr(settings, "SETUP_DATABASE", None) or {
        **settings.DATABASES["setup"],
        "NAME": "postgres",
    }
    return {
        key: entry.get(key, "") for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    }


@contextmanager
def scratch_database(purpose: str):
    """An empty database owned by the owner role, dropped afterwards."""
    server = _server()
    name = f"prodpatterns_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with embedded.connect(server, autocommit=True) as conn:
        ensure_database(conn, name, OWNER_ROLE.name)
    try:
        with embedded.connect(embedded.local_databases(server, name).owner, autocommit=True) as c:
            for role in (APP_ROLE, CROSS_TENANT_ROLE):
                grant_app_privileges(c, role.name)
        yield name
    finally:
        with embedded.connect(server, autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )


def run_child(
    command: str,
    spec: dict[str, Any],
    *,
    folder: Path,
    database: str,
    child_apps: list[str],
    migration_modules: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run tests/zoo_evolution/child.py; its report (or how it crashed)."""
    spec_path = folder / f"spec-{uuid.uuid4().hex[:6]}.json"
    report_path = spec_path.with_name(spec_path.name.replace("spec", "report"))
    spec_path.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.zoo_evolution.settings",
        PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]),
        PYTHONDONTWRITEBYTECODE="1",  # models.py changes within a second, same size maybe
        PRODPATTERNS_CHILD_SERVER=json.dumps(_server()),
        PRODPATTERNS_CHILD_DATABASE=database,
        PRODPATTERNS_CHILD_APPS=",".join(child_apps),
        PRODPATTERNS_CHILD_MIGRATION_MODULES=json.dumps(migration_modules or {}),
        PRODPATTERNS_CHILD_TENANT_SETTING="1"
        if hasattr(settings, "PRODPATTERNS_TENANT_MODEL")
        else "",
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tests.zoo_evolution.child", command, spec_path, report_path],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # a question nobody answers ends the child, never hangs it
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    if not report_path.exists():
        output = f"{result.stdout[-3000:]}{result.stderr[-5000:]}"
        return {"crashed": f"exit {result.returncode}\n{output}"}
    report = json.loads(report_path.read_text())
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


# The small tenant app's history: chains of steps, each (models file, spec for the child).
# ref: the model the foreign key references; child: the model that has it; fk / m2m: the
# names of the foreign key and the many-to-many on child; m2m_target: the latter's target.
BASE = {"app": EVO, "ref": "Supplier", "child": "Part", "fk": "supplier", "m2m": "labels"}
BASE["m2m_target"] = "Label"
CHAINS = {
    "field": [
        ("s0_initial", {**BASE, "seed": True}),
        ("s1_rename_field", {**BASE, "fk": "maker"}),
        ("s3_alter_fk", {**BASE, "fk": "maker"}),
    ],
    # Each change below starts from a fresh app of its own, so that a failure in one does
    # not hide the others.
    "model": [
        ("s0_initial", {**BASE, "seed": True}),
        ("s2_rename_model", {**BASE, "ref": "Vendor"}),
    ],
    "retarget": [
        ("s0_initial", {**BASE, "seed": True}),
        # The existing rows point at suppliers: a user moves or drops them first.
        ("s4_retarget_fk", {**BASE, "purge": ["zooevo_part_labels", "zooevo_part"]}),
    ],
    "m2m": [
        ("s0_initial", {**BASE, "seed": True}),
        ("s5_rename_m2m", {**BASE, "m2m": "tags"}),
    ],
    "child": [
        ("s0_initial", {**BASE, "seed": True}),
        ("s6_rename_child_model", {**BASE, "child": "Piece"}),
    ],
}


def run_chain(chain: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Write the app, then each step's models.py, and run a child per step; the reports."""
    package = folder / EVO
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    shutil.copy(STAGES / "apps.py", package / "apps.py")
    reports: dict[str, dict[str, Any]] = {}
    with scratch_database(f"evo_{chain}") as database:
        failed = None
        for stage, spec in CHAINS[chain]:
            if failed:
                reports[stage] = {"crashed": f"not run: the step before it ({failed}) failed"}
                continue
            shutil.copy(STAGES / f"{stage}.py", package / "models.py")
            report = run_child("evolve", spec, folder=folder, database=database, child_apps=[EVO])
            report["files"] = {
                p.name: p.read_text() for p in sorted((package / "migrations").glob("0*.py"))
            }
            reports[stage] = report
            if "crashed" in report or not all(
                report.get(step, {}).get("ok") for step in ("makemigrations", "migrate")
            ):
                failed = stage
    return reports


def run_squash(folder: Path) -> dict[str, Any]:
    """Copy the zoo's migrations, squash the copy in a child, apply it to an empty database."""
    copy = folder / "zoo_squashed_migrations"
    copy.mkdir(parents=True)
    for path in (HERE / "zoo" / "migrations").glob("*.py"):
        shutil.copy(path, copy / path.name)
    with scratch_database("zoo_squash") as database:
        report = run_child(
            "squash",
            {"app": ZOO},
            folder=folder,
            database=database,
            child_apps=["tests.testapp", "tests.zoo"],
            migration_modules={ZOO: copy.name},
        )
    report["files"] = sorted(p.name for p in copy.glob("*.py"))
    return report


# Which child work each test needs; only that of the selected tests is started.
NEEDS = {
    "test_the_evolving_app_starts_with_its_ddl": "field",
    "test_renaming_a_tenant_foreign_key_keeps_its_ddl_valid": "field",
    "test_altering_a_tenant_foreign_key_keeps_its_ddl_valid": "field",
    "test_renaming_the_referenced_tenant_model_keeps_its_ddl_valid": "model",
    "test_renaming_the_referencing_tenant_model_keeps_its_ddl_valid": "child",
    "test_pointing_a_tenant_foreign_key_at_another_model_moves_its_tenant_key": "retarget",
    "test_renaming_a_many_to_many_between_tenant_models_keeps_its_link_policy": "m2m",
    "test_the_squashed_zoo_migrations_apply_to_an_empty_database_with_the_same_catalog": "squash",
}


@pytest.fixture(scope="session", autouse=True)
def children(request, tmp_path_factory):
    """{job: future of its reports}, started at the first test of this module that runs,
    all at once. Session-scoped: pytest-django runs this module's database tests, its
    transactional test and the others apart, and a module-scoped fixture would be set up
    (and every child run) once for each part. Autouse: so the children start with the
    first test and run next to it."""
    selected = {
        NEEDS[item.originalname]
        for item in request.session.items
        if getattr(item, "module", None) is sys.modules[__name__] and item.originalname in NEEDS
    }
    with ThreadPoolExecutor(max_workers=max(len(selected), 1)) as pool:
        jobs = {}
        for job in sorted(selected):
            folder = tmp_path_factory.mktemp(f"zoo_{job}")
            if job == "squash":
                jobs[job] = pool.submit(run_squash, folder)
            else:
                jobs[job] = pool.submit(run_chain, job, folder)
        yield jobs


def step(children, chain: str, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the child's report, the spec) of one step; fails at once when it could not run."""
    report = children[chain].result()[stage]
    assert "crashed" not in report, report["crashed"]
    for name in ("purge", "makemigrations", "migrate", "seed"):
        if name in report:
            assert report[name]["ok"], failure(stage, name, report[name])
    return report, dict(CHAINS[chain])[stage]


def failure(stage: str, name: str, outcome: dict[str, Any]) -> str:
    """The error first, then the end of its traceback."""
    tail = "\n".join(outcome["error"].splitlines()[-14:])
    return f"{stage}: {name} failed: {outcome['summary']}\n\n{tail}"


def rows_changed(children, chain: str, report: dict[str, Any]) -> list[str]:
    """The rows seeded at the chain's first step, unless they are still as they were."""
    first = CHAINS[chain][0][0]
    before, now = result(step(children, chain, first)[0], "seeded"), result(report, "seeded")
    return [] if now == before else [f"seeded rows changed: {before} -> {now}"]


def result(report: dict[str, Any], name: str) -> Any:
    assert report[name]["ok"], failure("", name, report[name])
    return report[name]["result"]


def ddl_problems(report: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """Every way the catalog differs from what the models say it must hold."""
    models = result(report, "models")
    cat = result(report, "catalog")
    snap = cat["tables"]
    flags = {name: (rls, force) for name, _, rls, force in snap["tables"]}
    policies = defaultdict(list)
    for table, name, _, _, _, qual, check in snap["policies"]:
        policies[table].append((name, qual or "", check or ""))
    triggers = defaultdict(dict)
    for table, name, _, definition in snap["triggers"]:
        triggers[table][name] = definition
    constraints = defaultdict(dict)
    for table, name, _, definition in snap["constraints"]:
        constraints[table][name] = definition
    tenant_column = {m["table"]: m["tenant_column"] for m in models}

    problems: list[str] = []
    expected = {"policies": set(), "triggers": set(), "keys": set()}
    for m in models:
        table, prefix, tenant = m["table"], f"{EVO}_{m['model_name']}", m["tenant_column"]
        if flags.get(table) != (True, True):
            problems.append(f"{table}: row level security enabled, forced = {flags.get(table)}")
        names = [p[0] for p in policies[table]]
        if names != [f"{prefix}_tenant_rls"]:
            problems.append(f"{table}: policies {names}, expected [{prefix}_tenant_rls]")
        for name, qual, check in policies[table]:
            for what, text in (("USING", qual), ("WITH CHECK", check)):
                if TENANT_FUNCTION not in text or tenant not in text:
                    problems.append(f"{table}: policy {name} {what} is {text!r}")
        expected["policies"].add((table, f"{prefix}_tenant_rls"))
        key = constraints[table].get(f"{prefix}_tenant_key")
        if key != f"UNIQUE ({tenant}, {m['pk_column']})":
            problems.append(f"{table}: {prefix}_tenant_key is {key!r}")
        expected["keys"].add((table, f"{prefix}_tenant_key"))
        audit = {f"{prefix}_audit_{op}" for op in ("ins", "upd", "del")}
        if set(triggers[table]) != audit:
            problems.append(
                f"{table}: triggers {sorted(triggers[table])}, expected {sorted(audit)}"
            )
        for name in audit & set(triggers[table]):
            definition = triggers[table][name]
            if (
                f"prodpatterns_audit('{m['label']}', " not in definition
                or f" ON public.{table} " not in definition
            ):
                problems.append(f"{table}: trigger {name} is {definition!r}")
        expected["triggers"] |= {(table, name) for name in audit}
        for fk in m["fks"]:
            if not fk["target_is_tenant"]:
                continue
            name = f"{prefix}_{fk['field']}_tenant_fk"
            want = (
                f"FOREIGN KEY ({tenant}, {fk['column']}) REFERENCES {fk['target_table']}"
                f"({tenant_column[fk['target_table']]}, {fk['target_column']})"
                " DEFERRABLE INITIALLY DEFERRED"
            )
            have = constraints[table].get(name)
            if have != want:
                problems.append(f"{table}: {name} is {have!r}, expected {want!r}")
            expected["keys"].add((table, name))
        for m2m in m["m2m"]:
            through, name = m2m["through_table"], f"{prefix}_{m2m['field']}_rls"
            if flags.get(through) != (True, True):
                problems.append(
                    f"{through}: row level security enabled, forced = {flags.get(through)}"
                )
            names = [p[0] for p in policies[through]]
            if names != [name]:
                problems.append(f"{through}: policies {names}, expected [{name}]")
            for _, qual, check in policies[through]:
                for column, end_table in m2m["ends"]:
                    ref = f"FROM {end_table} t"
                    col = f"{through}.{column}"
                    if not all(ref in text and col in text for text in (qual, check)):
                        problems.append(
                            f"{through}: policy {name} does not join {end_table}"
                            f" on {column}: {qual!r}"
                        )
            expected["policies"].add((through, name))
            # links between audited models are audited: capture triggers on the link table
            link_audit = {f"{prefix}_{m2m['field']}_audit_{op}" for op in ("ins", "upd", "del")}
            if set(triggers.get(through, {})) != link_audit:
                problems.append(
                    f"{through}: triggers {sorted(triggers.get(through, {}))},"
                    f" expected {sorted(link_audit)}"
                )
            for trigger in link_audit & set(triggers.get(through, {})):
                if (
                    f"prodpatterns_audit('{m['label']}_{m2m['field']}', "
                    not in (triggers[through][trigger])
                ):
                    problems.append(
                        f"{through}: trigger {trigger} is {triggers[through][trigger]!r}"
                    )
            expected["triggers"] |= {(through, trigger) for trigger in link_audit}

    # Nothing the app generates is left over from an earlier name of a model or field.
    prefixed = cat["prefixed"]
    for table, name in prefixed["policies"]:
        if (table, name) not in expected["policies"]:
            problems.append(f"stray policy {name} on {table}")
    for table, name in prefixed["triggers"]:
        if (table, name) not in expected["triggers"]:
            problems.append(f"stray trigger {name} on {table}")
    for table, name in prefixed["constraints"]:
        if name.endswith(("_tenant_key", "_tenant_fk")) and (table, name) not in expected["keys"]:
            problems.append(f"stray constraint {name} on {table}")
    live = {m["table"] for m in models} | {x["through_table"] for m in models for x in m["m2m"]}
    for name, kind in prefixed["relations"]:
        if kind in ("r", "p") and name not in live:
            problems.append(f"stray table {name}")
    if "prodpatterns_audit" not in cat["functions"]:
        problems.append("the audit trigger function prodpatterns_audit is gone")
    return problems


def behaviour_problems(report: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """As the application role in tenant A (see child.behaviour)."""
    seen = result(report, "behaviour")
    problems = []
    for case, must_reject in (
        ("same_tenant_reference", False),
        ("cross_tenant_reference", True),
        ("cross_tenant_update", True),
        ("same_tenant_link", False),
        ("cross_tenant_link", True),
    ):
        if case not in seen:
            problems.append(f"{case}: not tried (the same-tenant reference was refused)")
        elif seen[case]["rejected"] != must_reject:
            problems.append(
                f"{case}: {'accepted' if not must_reject else 'refused'} expected, got {seen[case]}"
            )
    if "audited" not in seen:
        return problems
    for case in ("cross_tenant_reference", "cross_tenant_update"):
        constraint = seen[case].get("constraint")
        if (
            seen[case]["rejected"]
            and constraint != f"{EVO}_{spec['child'].lower()}_{spec['fk']}_tenant_fk"
        ):
            problems.append(f"{case}: refused by {constraint!r}, not the tenant foreign key")
    entries = seen["audit_entries"]
    for label, pk in seen["audited"]:
        if not any(e[:3] == [label, pk, "update"] and "name" in e[3] for e in entries):
            problems.append(f"the ORM update of {label} {pk} is not audited as such: {entries}")
    labels = {label for label, _ in seen["audited"]}
    if len(entries) != 2 or {e[0] for e in entries} != labels:
        problems.append(f"two updates, one per model ({sorted(labels)}), wrote {entries}")
    return problems


def check_step(
    report: dict[str, Any], spec: dict[str, Any], *, operations: list[str], asked: list[str]
) -> list[str]:
    """Everything a step must leave right; the list of what is not."""
    problems = []
    made = result(report, "makemigrations")
    ops = [op for ops in made["migrations"].values() for op in ops]
    if len(made["migrations"]) != 1:
        problems.append(f"expected one new migration, got {list(made['migrations'])}")
    for wanted in operations:
        if not any(op[1] == wanted for op in ops):
            problems.append(f"no operation {wanted!r} in {[op[1] for op in ops]}")
    if made["asked"] != asked:
        problems.append(f"makemigrations asked {made['asked']}, expected {asked}")
    for check in (ddl_problems, behaviour_problems, commands_problems):
        try:
            problems += check(report, spec)
        except AssertionError as exc:  # a step of the child failed: its error instead
            problems.append(str(exc).split("\n\n")[0])
    return problems


def commands_problems(report: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """``prodpatterns rls check`` and ``makemigrations --check`` after the step."""
    problems = []
    rls = result(report, "rls_check")
    if rls["exit"] or "matches the models" not in rls["stdout"]:
        problems.append(f"prodpatterns rls check: {rls}")
    check = result(report, "makemigrations_check")
    if check["exit"] or "No changes detected" not in check["stdout"]:
        problems.append(f"makemigrations --check afterwards: {check['stdout']}")
    return problems


def assert_clean(report: dict[str, Any], problems: list[str]) -> None:
    """Fail listing every problem, with the migration the step made."""
    if problems:
        made = report.get("makemigrations", {}).get("result", {}).get("migrations", {})
        files = "\n".join(report.get("files", {}).get(f"{name}.py", "") for name in made)
        pytest.fail("\n".join(problems) + "\n\nThe step's migration:\n" + files)


def test_the_evolving_app_starts_with_its_ddl(children):
    """The baseline: the checks below find every generated object on a fresh app."""
    report, spec = step(children, "field", "s0_initial")
    problems = check_step(
        report, spec, operations=["Create model Supplier", "Create model Part"], asked=[]
    )
    ops = [op for ops in result(report, "makemigrations")["migrations"].values() for op in ops]
    generated = {"RowLevelSecurity", "ThroughRowLevelSecurity", "TenantForeignKey", "AuditTriggers"}
    if not generated <= {op[2] for op in ops}:
        problems.append(f"the initial migration lacks generated DDL: {ops}")
    assert_clean(report, problems)


def test_renaming_a_tenant_foreign_key_keeps_its_ddl_valid(children):
    report, spec = step(children, "field", "s1_rename_field")
    problems = check_step(
        report,
        spec,
        operations=["Rename field supplier on part to maker"],
        asked=["field part.supplier -> maker"],
    )
    assert_clean(report, problems + rows_changed(children, "field", report))


def test_altering_a_tenant_foreign_key_keeps_its_ddl_valid(children):
    report, spec = step(children, "field", "s3_alter_fk")
    problems = check_step(report, spec, operations=["Alter field maker on part"], asked=[])
    columns = {
        (t, c): notnull for t, c, _, notnull, *_ in result(report, "catalog")["tables"]["columns"]
    }
    if columns.get(("zooevo_part", "maker_id")) is not False:
        problems.append(
            f"zooevo_part.maker_id NOT NULL = {columns.get(('zooevo_part', 'maker_id'))}"
        )
    assert_clean(report, problems + rows_changed(children, "field", report))


def test_renaming_the_referenced_tenant_model_keeps_its_ddl_valid(children):
    report, spec = step(children, "model", "s2_rename_model")
    problems = check_step(
        report,
        spec,
        operations=["Rename model Supplier to Vendor"],
        asked=["model Supplier -> Vendor"],
    )
    assert_clean(report, problems + rows_changed(children, "model", report))


def test_renaming_the_referencing_tenant_model_keeps_its_ddl_valid(children):
    """The model with the tenant foreign key and the many-to-many (its link table is
    renamed with it)."""
    report, spec = step(children, "child", "s6_rename_child_model")
    problems = check_step(
        report, spec, operations=["Rename model Part to Piece"], asked=["model Part -> Piece"]
    )
    assert_clean(report, problems + rows_changed(children, "child", report))


def test_pointing_a_tenant_foreign_key_at_another_model_moves_its_tenant_key(children):
    report, spec = step(children, "retarget", "s4_retarget_fk")
    problems = check_step(report, spec, operations=["Alter field supplier on part"], asked=[])
    assert_clean(report, problems)


def test_renaming_a_many_to_many_between_tenant_models_keeps_its_link_policy(children):
    report, spec = step(children, "m2m", "s5_rename_m2m")
    problems = check_step(
        report,
        spec,
        operations=["Rename field labels on part to tags"],
        asked=["field part.labels -> tags"],
    )
    assert_clean(report, problems + rows_changed(children, "m2m", report))


# --- squashmigrations -----------------------------------------------------------------------


# Transactional only to run late (pytest-django runs these after the other database tests),
# when the child is done: it only reads the catalog of the session's test database.
@pytest.mark.django_db(transaction=True)
def test_the_squashed_zoo_migrations_apply_to_an_empty_database_with_the_same_catalog(children):
    report = children["squash"].result()
    assert "crashed" not in report, report["crashed"]
    squash = result(report, "squashmigrations")
    assert squash["exit"] == 0, squash
    [(name, replaces)] = report["squashed"]
    originals = sorted(
        f"{ZOO}.{f[:-3]}" for f in report["files"] if f[0].isdigit() and f != f"{name}.py"
    )
    assert sorted(replaces) == originals, "the squash does not replace every migration"
    migrate = result(report, "migrate")
    assert re.search(rf"Applying {ZOO}\.{name}\.\.\. OK", migrate["stdout"]), migrate["stdout"]
    assert not re.search(rf"Applying {ZOO}\.0001_initial\.\.\.", migrate["stdout"])
    assert name in result(report, "applied")
    check = result(report, "makemigrations_check")
    assert check["exit"] == 0 and "No changes detected" in check["stdout"], check

    # The session's test database was made by the original migrations.
    squashed, migrated = result(report, "catalog"), snapshot()
    assert squashed["policies"], "the squashed migration created no policy"
    for key in migrated:  # one kind at a time, for a readable difference
        assert squashed[key] == migrated[key], f"{key} differ between squashed and original"
