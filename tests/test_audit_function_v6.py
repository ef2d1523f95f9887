"""Version 6 of the audit trigger function (issue 17).

On Citus an INSERT ... SELECT into a distributed table (the log, in Citus mode) cannot
read a trigger's transition tables, so where the log is distributed version 6 gathers the
entries into an array first. Without Citus it must write exactly what version 5 writes, be what
migration 0012 installs (version 5 back on the way down), and be the version the registry
names. Its Citus path is tested on the cluster (tests/citus/test_audit_on_citus.py).
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from django_prodpatterns.db.audit import AUDIT_FUNCTION
from django_prodpatterns.db.versioned import (
    CURRENT_FUNCTIONS,
    SQL_DIR,
    current_function_file,
    sql_file,
)
from django_prodpatterns.ops.drift import FUNCTION_FILES
from tests.audit_probe import assert_probe_entries, entries_written_by
from tests.test_audit_function_v5 import V5, file_body, installed_body

V6 = "audit_function_v6.sql"


def test_the_registry_names_the_current_versions_once():
    """db/audit.py and ops/drift.py read the current versions from one place."""
    assert current_function_file("audit_function") == V6 == AUDIT_FUNCTION
    assert set(CURRENT_FUNCTIONS) == {f.rpartition("_v")[0] for f in FUNCTION_FILES}
    assert FUNCTION_FILES == (
        "context_functions_v3.sql",
        V6,
        "audit_guard_v2.sql",
        "stage_function_v1.sql",
    )
    assert all((SQL_DIR / name).is_file() for name in FUNCTION_FILES)


def test_each_branch_has_both_paths_from_one_source():
    """The entries of each branch are written once in the source (fragments) and reach the
    log by one of two paths; the expansion has both in all three branches."""
    source = (SQL_DIR / V6).read_text()
    expanded = sql_file(V6)
    for name in ("created_entry", "deleted_entry", "updated_entry"):
        assert source.count(f"-- [fragment {name}]") == 1
        assert source.count("{{" + name + "}}") == 2
    assert expanded.count("SELECT jsonb_agg(entry) INTO entries FROM entry") == 3
    assert expanded.count("INSERT INTO @schema@.prodpatterns_auditlog") == 5  # 3 + the array's 2
    assert "{{" not in expanded and "[fragment" not in expanded


@pytest.mark.django_db
def test_version_6_writes_exactly_the_entries_version_5_writes():
    before = entries_written_by(V5, connection)
    after = entries_written_by(V6, connection)
    assert after == before
    assert_probe_entries(after)


@pytest.mark.django_db
def test_migration_0012_installs_version_6_and_its_reverse_restores_version_5():
    assert installed_body() == file_body(V6)
    try:
        call_command("migrate", "prodpatterns", "0011", verbosity=0, stdout=StringIO())
        assert installed_body() == file_body(V5)
    finally:
        call_command("migrate", "prodpatterns", verbosity=0, stdout=StringIO())
    assert installed_body() == file_body(V6)
