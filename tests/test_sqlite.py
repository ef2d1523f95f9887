"""The database-independent patterns also pass on SQLite (DESIGN.md section 4).

Runs the soft-delete and timestamp test modules again in a child pytest with
``tests/settings_sqlite.py``, so the README's single ``pytest`` covers both databases.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    str(path.relative_to(ROOT))
    for pattern in ("test_softdelete_*.py", "test_timestamps.py")
    for path in (ROOT / "tests").glob(pattern)
)


def test_soft_delete_and_timestamp_modules_pass_on_sqlite():
    assert any("softdelete" in module for module in MODULES)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings_sqlite"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds",
            "tests.settings_sqlite",
            *MODULES,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary
    assert "failed" not in summary
