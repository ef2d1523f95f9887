"""One source for names: what Python spells once must match what cannot import it.

Two kinds of names are shared with places that cannot import Python constants:

- the custom PostgreSQL settings (``db/names.py``), which the released SQL files in
  ``db/sql/`` spell out and which can never be edited again;
- the fields the patterns add (``markers.py``), which the abstract bases declare as class
  attributes and the frozen audit function reads by name.

These tests read both sides, so that neither can drift from the other unnoticed.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from django_prodpatterns import deletion, markers
from django_prodpatterns.db import names, signing
from django_prodpatterns.models import (
    SoftDeleteModel,
    TenantModel,
    TimestampedModel,
    VersionedModel,
)

SQL_FILES = sorted((Path(names.__file__).parent / "sql").glob("*.sql"))
# A setting name: "prodpatterns." and an identifier, not part of a longer dotted name
# (django_prodpatterns.backfill in a comment) nor of a schema (prodpatterns_private.x).
SETTING = re.compile(r"(?<![\w.])prodpatterns\.[A-Za-z_]\w*")


def settings_used(path: Path) -> set[str]:
    """The ``prodpatterns.*`` settings a file's SQL names, comments left out (a comment
    may cite a check id such as prodpatterns.W004, which is no setting)."""
    code = re.sub(r"--[^\n]*", "", path.read_text())
    return set(SETTING.findall(code))


def test_the_sql_files_are_found():
    assert len(SQL_FILES) >= 20  # a wrong directory would make the tests below vacuous


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_every_setting_an_sql_file_uses_is_named_in_python(path):
    assert settings_used(path) <= set(names.SETTINGS)


def test_every_setting_named_in_python_is_used_by_some_sql_file():
    used = set().union(*(settings_used(path) for path in SQL_FILES))
    assert set(names.SETTINGS) - used == set()


def test_the_names_are_listed_once_each():
    defined = {
        value
        for name, value in vars(names).items()
        if name.isupper() and isinstance(value, str) and value.startswith("prodpatterns.")
    }
    assert sorted(names.SETTINGS) == sorted(defined)


def test_signing_serves_the_one_context_setting():
    assert signing.CONTEXT_SETTING is names.CONTEXT_SETTING


def local_fields(model):
    return {field.name for field in model._meta.local_fields}


@pytest.mark.parametrize(
    ("model", "declared"),
    [
        (TimestampedModel, markers.TIMESTAMP_FIELDS),
        (SoftDeleteModel, markers.SOFT_DELETE_FIELDS),
        (VersionedModel, (markers.VERSION,)),
        (TenantModel, (markers.TENANT_FIELD,)),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_each_base_declares_exactly_the_fields_markers_names(model, declared):
    assert local_fields(model) == set(declared)


def test_bookkeeping_is_the_fields_the_patterns_write_themselves():
    assert set(markers.BOOKKEEPING_FIELDS) == (
        local_fields(TimestampedModel) | local_fields(SoftDeleteModel) | {markers.VERSION}
    )
    assert markers.TENANT_FIELD not in markers.BOOKKEEPING_FIELDS  # the row's owner: data
    # Each purpose's view is a part of the one set, never a name of its own.
    assert set(markers.AUDIT_IGNORED_FIELDS) < set(markers.BOOKKEEPING_FIELDS)
    assert set(markers.CONFLICT_IGNORED_FIELDS) < set(markers.BOOKKEEPING_FIELDS)
    # A soft delete someone made in the meantime is news to an editor, and audited.
    assert not set(markers.SOFT_DELETE_FIELDS) & set(markers.CONFLICT_IGNORED_FIELDS)
    assert not set(markers.SOFT_DELETE_FIELDS) & set(markers.AUDIT_IGNORED_FIELDS)


@pytest.mark.parametrize(
    "path", [p for p in SQL_FILES if p.name.startswith("audit_function")], ids=lambda p: p.name
)
def test_the_audit_functions_read_the_soft_delete_column_markers_names(path):
    """The trigger tells a soft delete and a restore from an update by this column."""
    assert f"-> '{markers.DELETED_AT}'" in path.read_text()


@pytest.mark.parametrize(
    ("old", "new"),
    [("Operation", deletion.DeletionRun), ("BATCH", markers.DELETION_BATCH)],
)
def test_a_former_deletion_name_still_imports_with_a_warning(old, new):
    with pytest.warns(DeprecationWarning, match=f"deletion.{old} is deprecated"):
        value = getattr(deletion, old)
    assert value is new


def test_an_unknown_deletion_name_is_an_attribute_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
            deletion.Nothing  # noqa: B018
