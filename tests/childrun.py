"""Run part of the suite again in a child pytest with other settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(settings, *paths, drop_env=("DJANGO_SETTINGS_MODULE",)):
    """Return (exit status, last summary line, output tail) of the child run."""
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ds", settings, *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = result.stdout.strip().splitlines()
    return (
        result.returncode,
        lines[-1] if lines else "",
        result.stdout[-4000:] + result.stderr[-2000:],
    )
