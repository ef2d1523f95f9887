"""lint_migrations: one example of each unsafe operation is flagged with its reason, the
safe forms are not, and the app's own and the example project's migrations pass."""

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_prodpatterns.ops.migration_lint import RULES, lint
from tests.demo_server import ROOT, demo_folder

EXPECTED = [  # (migration, rule, what the operation says)
    ("0002_dangerous", "not-null-without-default", "Add field code"),
    ("0002_dangerous", "index-not-concurrent", "Create index lintapp_thing_name_idx"),
    ("0002_dangerous", "unique-not-concurrent", "Create constraint lintapp_thing_name_uniq"),
    ("0002_dangerous", "column-type-change", "Alter field count"),
    ("0002_dangerous", "rename", "Rename field old_name"),
    ("0002_dangerous", "drop", "Remove field legacy"),
    ("0002_dangerous", "drop", "Delete model Gone"),
    ("0002_dangerous", "index-not-concurrent", "Add field other"),
    ("0002_dangerous", "constraint-validated", "Add field other"),
    ("0002_dangerous", "constraint-validated", "Create constraint lintapp_thing_count_check"),
    ("0003_data_and_schema", "data-in-schema-migration", "Raw Python operation"),
]


def test_each_unsafe_operation_is_flagged_and_the_safe_forms_are_not():
    findings = lint("lintapp")
    found = [(f.migration.split(".")[1], f.rule, f.operation) for f in findings]
    assert len(found) == len(EXPECTED)
    for (migration, rule, operation), (f_migration, f_rule, f_operation) in zip(
        EXPECTED, found, strict=True
    ):
        assert (f_migration, f_rule) == (migration, rule)
        assert f_operation.startswith(operation)
    assert {rule for _, rule, _ in EXPECTED} == set(RULES)  # every rule has its example
    assert all(f.why and f.instead and f.allowed is None for f in findings)
    # 0001 (indexes on a new table), 0004-0006 (the safe forms) are not flagged
    assert not {f.migration for f in findings} & {
        "lintapp.0001_initial",
        "lintapp.0004_safe",
        "lintapp.0005_safe_index",
        "lintapp.0006_data_only",
    }


# Through run_from_argv (the ``fails`` fixture) the system checks run, as with manage.py, and
# the role check of the default alias (prodpatterns.E001) connects to it: hence django_db.
@pytest.mark.django_db
def test_the_command_reports_and_exits_non_zero(fails, capsys):
    status, err = fails("lint_migrations", "lintapp")
    assert status == 1
    assert err == (
        "CommandError: 11 unsafe migration operation(s); see above, or allow them with a "
        "reason (prodpatterns_lint_allow)."
    )
    with pytest.raises(CommandError):
        call_command("lint_migrations", "lintapp")
    out = capsys.readouterr().out
    assert "lintapp.0002_dangerous: Rename field old_name on thing to new_name [rename]" in out
    assert f"  why: {RULES['rename'][0]}" in out


def test_since_and_an_allowance_with_a_reason(capsys):
    allow = {"lintapp.0003_data_and_schema": {"data-in-schema-migration": "a 3-row table"}}
    with override_settings(PRODPATTERNS={"MIGRATION_LINT_ALLOW": allow}):
        call_command("lint_migrations", "lintapp", "--since", "0002", verbosity=2)
    out = capsys.readouterr().out
    assert "[data-in-schema-migration] allowed: a 3-row table" in out
    assert "No unsafe migration operations (1 allowed)." in out
    assert "0002_dangerous" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope"], "Unknown app 'nope'."),
        (["lintapp", "--since", "0099"], "No migration '0099' in lintapp."),
        (["--since", "0001"], "--since needs an app_label."),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_one_line(fails, argv, message):
    status, err = fails("lint_migrations", *argv)
    assert (status, err) == (1, f"CommandError: {message}")


def test_the_apps_own_migrations_pass():
    assert lint("prodpatterns") == []
    call_command("lint_migrations", "prodpatterns")


@pytest.mark.parametrize("argv", [["shop"], []], ids=["shop", "every app but Django's"])
def test_the_example_projects_migrations_pass(argv):
    with demo_folder() as folder:
        result = subprocess.run(
            [sys.executable, "manage.py", "lint_migrations", *argv],
            cwd=ROOT,
            env={"PRODPATTERNS_PGDATA": str(folder / "pgdata"), **_clean_env()},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    assert "No unsafe migration operations" in result.stdout


def _clean_env():
    import os

    return {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
