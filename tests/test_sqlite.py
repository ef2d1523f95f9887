"""The database-independent patterns also pass on SQLite (DESIGN.md section 4).

Runs the soft-delete and timestamp test modules again in a child pytest with
``tests/settings_sqlite.py``, so the README's single ``pytest`` covers both databases.
"""

from tests.childrun import ROOT, run_pytest

MODULES = sorted(
    str(path.relative_to(ROOT))
    for pattern in ("test_softdelete_*.py", "test_timestamps.py")
    for path in (ROOT / "tests").glob(pattern)
)


def test_soft_delete_and_timestamp_modules_pass_on_sqlite():
    assert any("softdelete" in module for module in MODULES)
    status, summary, output = run_pytest(
        "tests.settings_sqlite", *MODULES, drop_env=("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    )
    assert status == 0, output
    assert " passed" in summary
    assert "failed" not in summary
