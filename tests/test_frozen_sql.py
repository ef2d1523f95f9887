"""Generated SQL is frozen migration state: a migration runs the SQL of the version it names.

Migrations store parameters and a version; the SQL comes from the files in
``django_prodpatterns/db/sql/``. So a released file must never change (its hash is pinned
here), and a change ships as a new version: a new file, a new ``current_version`` for the
models, and a new migration. The copy test edits a copy of the package the way a later
release would and shows that the migrations committed today still produce the same SQL,
and that editing a released file instead is caught.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from django_prodpatterns.db.audit import AuditTriggers, ThroughAuditTriggers
from django_prodpatterns.db.citus import CitusRowLevelSecurity, DistributedTable, ReferenceTable
from django_prodpatterns.db.constraints import (
    RowLevelSecurity,
    TenantForeignKey,
    ThroughRowLevelSecurity,
)
from django_prodpatterns.db.versioned import SQL_DIR, parse_template, template
from tests.childrun import ROOT
from tests.frozen_child import MAKEMIGRATIONS
from tests.helpers import superuser_url

# The sha256 of every released SQL file. A new file gets its line when it is released;
# a released line never changes (ship a new version instead).
RELEASED = {
    "citus_tenant_key_v1.sql": ("849b2826981a1ff4d41dce34986bcd96b58b907bb73cc76914b24966c58597ea"),
    "citus_audit_triggers_v1.sql": (
        "576a52bdb2da6e5be3b15e16c490e8865e0d8f3cd2bf29e03ec8fe489efb2ffd"
    ),
    "citus_distributed_v1.sql": "c58faaf12ea6ced507e52f60353ae108e4d825faec4c5af0216156c15c6ca429",
    "citus_functions_v1.sql": "eb1b338a1c25c12026fed881ec3538c4474e97cf8232fec6497f45823959b67a",
    "citus_reference_v1.sql": "402359f5496c18123964d3461c0eb2ce374ed524912be80233af69365e01109b",
    "citus_tenant_policy_v1.sql": (
        "e3d41a5277c1f8e4cbeca30decf868b4ec6b8f456edabbb90aec69992d4b0aaa"
    ),
    "audit_function.sql": "cb040a3c9f72246c5f6837a5d60d3699c1a1c73659d6159cd884e7d14172b852",
    "audit_function_v2.sql": "1273b6448625118b05ba6cb8ff93160fb4775499eca0daf5d737d7e7533cc3ad",
    "audit_function_v3.sql": "369bcb32cd011b22a3cc9054378f8c34dc2421b3a15062c257980f930412c1cd",
    "audit_function_v4.sql": "fb3b6614a1f404315d4025a577b28d54c288ed6916b3554ebbe222d45e402814",
    "audit_function_v5.sql": "282959db0550b533b61709dd9761253e7a49e8ef541add03eb64c2aa49c0e018",
    "audit_function_v6.sql": "0698b99d4ffb0956bfebd55c442afda5c3fc80742b872acfe5a4b01203a50676",
    "audit_row_function_v1.sql": (
        "085add63695a00774b5ffe4ef05cdd9bb6c1be1d83465990aaeb6e55f72796bc"
    ),
    "audit_guard_v2.sql": "596295e206c8c8267585130d7730fad4951182e64905d03e786287f69554fa36",
    "audit_log_table.sql": "33cf1ff1f8c0ed6fe12c6b307e31a71b365de72e834fe255c6d3fff669be355a",
    "audit_log_table_reverse.sql": (
        "d2e3e4ab15df73dd2568431a198e482b562ccd11c34e7003c01001c419704954"
    ),
    "audit_triggers_v1.sql": "f14b902547983d4b9419e43a8a83fe1852b66fc96de0f221a91addb81c6ce360",
    "context_cache_v1.sql": "378c114b59232108321273176bfa30cb7cc0bdd4a21dd5761a405c1cc6778285",
    "context_functions_v1.sql": "4c563869e4ca87f2babf843b9601a0e488e7e244eb551e37a0dbbc880416f156",
    "context_functions_v2.sql": "113090bba521a479ce8adb8db54f3737e4b9cfdfd5f673358235f895e7a49c8a",
    "context_functions_v3.sql": "dadaeee1682234064b88da139faad5fd43517a71a97864675310fdeab52995e3",
    "context_key_v1.sql": "46031e3447efdca491fc3b960bcbbd24a04f45f9c21aadc6e84b4e7a0dd7571d",
    "link_policy_v1.sql": "8050d5b3e04bbe0b1773c0ee9b90b09a278a9fc8eb6fff307b88d78fb31facc3",
    "privileges_v1.sql": "dc3f7bd4cacf031a20b6babe0ce27192943c963e44e06ecef531120485872f0e",
    "single_column_fks_v1.sql": "6ef33b4dbc42efbdc1fdd89e644cfd63b24dfc53db20ab1edce00a538abb02e9",
    "stage_function_v1.sql": "f9ebcd9c2e9721465e7993b8a8f59217a72f9c4ea01c3c1711bdda445e4bb053",
    "tenant_key_v1.sql": "f3025ea3c9eed3beeca36be51fd28f84475adea3a647d2522516cfdf7e1e19e6",
    "tenant_policy_v1.sql": "bc7a3de3bccd8c46553e59ef98db00f696eb4950b41c8ce4d54e50becbbca966",
    "verified_policies_v1.sql": "bd26ff482df561202983f64e9acfc3a111948a3ae6257fafad272783c698891b",
}

GENERATED = [
    RowLevelSecurity,
    ThroughRowLevelSecurity,
    TenantForeignKey,
    AuditTriggers,
    CitusRowLevelSecurity,
    DistributedTable,
    ReferenceTable,
]


def released_file_changes(sql_dir: Path) -> list[str]:
    """Every way ``sql_dir`` differs from the released files (empty when none)."""
    found = []
    present = {path.name: path for path in sql_dir.glob("*.sql")}
    for name, digest in sorted(RELEASED.items()):
        if name not in present:
            found.append(f"{name}: a released file is gone")
        elif hashlib.sha256(present[name].read_bytes()).hexdigest() != digest:
            found.append(f"{name}: a released file changed; ship a new version instead")
    for name in sorted(set(present) - set(RELEASED)):
        found.append(f"{name}: not pinned; add its hash to RELEASED when it is released")
    return found


def test_released_sql_files_never_change():
    assert released_file_changes(SQL_DIR) == []


@pytest.mark.parametrize("constraint", [*GENERATED, ThroughAuditTriggers])
def test_every_generated_kind_has_its_current_version(constraint):
    """The models get ``current_version``; its template exists and has what the class uses."""
    sections = template(constraint.kind, constraint.current_version).sections
    assert "create" in sections and "remove" in sections
    made = constraint.current(name="x", **dict.fromkeys(constraint.options, "x"))
    assert made.version == constraint.current_version
    assert made.deconstruct()[2]["version"] == constraint.current_version


@pytest.mark.parametrize("constraint", GENERATED)
def test_a_migration_without_a_version_means_version_1(constraint):
    """Migrations written before versions were named carry none: they keep version 1's SQL."""
    options = dict.fromkeys(constraint.options, "x")
    assert constraint(name="x", **options).version == 1
    assert constraint(name="x", **options) != constraint(name="x", version=2, **options)


def test_a_version_this_release_lacks_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="version 99 of the generated tenant policy"):
        RowLevelSecurity(name="x", field="tenant", version=99).template  # noqa: B018


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("SELECT 1;", "a statement before the first section"),
        ("-- [create]\nALTER TABLE {table}\nENABLE ROW LEVEL SECURITY", "without its closing"),
    ],
)
def test_a_malformed_template_is_refused(text, error):
    with pytest.raises(ValueError, match=error):
        parse_template("kind", 1, text)


def test_template_statements_join_their_lines_and_fill_in_names():
    parsed = parse_template(
        "kind",
        1,
        "-- a comment\n-- [create]\nALTER TABLE {table}\n  ENABLE ROW LEVEL SECURITY;\n"
        "-- [requires]\na_v1.sql;\nf() b_v2.sql;\n",
    )
    assert parsed.statements("create", {"table": '"t"'}) == [
        'ALTER TABLE "t" ENABLE ROW LEVEL SECURITY'
    ]
    assert parsed.files("requires") == [(None, "a_v1.sql"), ("f()", "b_v2.sql")]


# --- a later release, in a copy -------------------------------------------------------------

# A committed migration that carries every kind of generated DDL (policies, link
# policies, tenant keys, capture triggers), and two of the app's own that run a file (the
# second a file written with fragments).
MIGRATIONS = [
    ("menagerie", "0001_initial"),
    ("prodpatterns", "0009_audit_backfill"),
    ("prodpatterns", "0011_audit_function_v5"),
]

TENANT_POLICY_V2 = """\
-- A later release's tenant policy (made up by the test).
-- [requires]
context_key_v1.sql;
context_cache_v1.sql;
prodpatterns_tenant_id() context_functions_v3.sql;
-- [condition]
{column} IS NOT NULL AND {column} = (SELECT prodpatterns_tenant_id())::{cast};
-- [create]
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY {policy} ON {table} USING ({condition}) WITH CHECK ({condition});
-- [remove]
DROP POLICY IF EXISTS {policy} ON {table};
-- [rename]
ALTER POLICY {policy} ON {table} RENAME TO {new_name};
"""


def later_release(tmp_path: Path) -> Path:
    """A copy of the package edited as a later release would be: a new tenant policy, new
    capture triggers calling a new audit function, the models moved to them."""
    root = tmp_path / "later"
    package = root / "django_prodpatterns"
    shutil.copytree(
        ROOT / "django_prodpatterns", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    sql = package / "db" / "sql"
    (sql / "tenant_policy_v2.sql").write_text(TENANT_POLICY_V2)
    (sql / "audit_function_v7.sql").write_text(
        "-- version 7\n" + (sql / "audit_function_v6.sql").read_text()
    )
    (sql / "audit_triggers_v2.sql").write_text(
        (sql / "audit_triggers_v1.sql")
        .read_text()
        .replace("audit_function_v4.sql", "audit_function_v7.sql")
        .replace("FOR EACH STATEMENT", "FOR EACH STATEMENT /* v2 */")
    )
    with (package / "db" / "constraints.py").open("a") as module:
        module.write("\nRowLevelSecurity.current_version = 2\n")
    with (package / "db" / "versioned.py").open("a") as module:
        module.write('\nCURRENT_FUNCTIONS["audit_function"] = 7\n')
    with (package / "db" / "audit.py").open("a") as module:
        module.write("\nAuditTriggers.current_version = 2\n")
    return root


def child(tree: Path, *args: str) -> str:
    """tests/frozen_child.py run with ``tree``'s django_prodpatterns (its output)."""
    env = {
        **{
            k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
        },
        "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT)]),
        "DATABASE_URL": superuser_url(),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "frozen_child.py"), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    first, _, rest = result.stdout.partition("\n")
    assert first == f"package {tree / 'django_prodpatterns' / '__init__.py'}"
    return rest


def test_a_later_release_leaves_applied_migrations_alone(tmp_path):
    later = later_release(tmp_path)
    arguments = [f"{app}.{name}" for app, name in MIGRATIONS]

    today = child(ROOT, *arguments)  # both on the same (empty) database: backwards introspects
    after, _, moved = child(later, *arguments, "menagerie").partition(MAKEMIGRATIONS)

    assert "CREATE POLICY" in today and "CREATE TRIGGER" in today and "FOREIGN KEY" in today
    assert after.strip() == today.strip()
    assert '"tenant_id" IS NOT NULL AND' not in after
    # The new versions reach the models through a new migration (makemigrations --check
    # in CI shows that today's tree needs none).
    calls = {(name, "version=2" in args) for name, args in re.findall(r"(\w+)\(([^()]*)\)", moved)}
    assert ("RowLevelSecurity", True) in calls and ("AuditTriggers", True) in calls, moved
    assert ("TenantForeignKey", True) not in calls  # still at version 1


def test_editing_a_released_file_in_a_copy_is_caught(tmp_path):
    later = later_release(tmp_path)
    released = later / "django_prodpatterns" / "db" / "sql" / "tenant_policy_v1.sql"
    released.write_text(released.read_text().replace("WITH CHECK", "WITH CHECK (true) --"))

    assert released_file_changes(released.parent) == [
        "tenant_policy_v1.sql: a released file changed; ship a new version instead",
        "audit_function_v7.sql: not pinned; add its hash to RELEASED when it is released",
        "audit_triggers_v2.sql: not pinned; add its hash to RELEASED when it is released",
        "tenant_policy_v2.sql: not pinned; add its hash to RELEASED when it is released",
    ]


@pytest.mark.django_db
def test_policies_come_from_their_versions_template():
    """The SQL a model's policy runs is its template's, names filled in (what sqlmigrate shows)."""
    from tests.testapp.models import Project

    rls = next(c for c in Project._meta.constraints if isinstance(c, RowLevelSecurity))
    with connection.schema_editor(collect_sql=True) as editor:
        statements = rls.create_statements(Project, editor)
    table = connection.ops.quote_name(Project._meta.db_table)
    assert statements[-1] == (
        f'CREATE POLICY "{rls.name}" ON {table}'
        f' USING ("tenant_id" = (SELECT prodpatterns_tenant_id())::bigint)'
        f' WITH CHECK ("tenant_id" = (SELECT prodpatterns_tenant_id())::bigint)'
    )
