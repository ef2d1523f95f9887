"""Shared start-up for the benchmark scripts: Django on the benchmark database."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    """Configure Django with ``benchmarks.settings`` and create the benchmark tables."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from django_prodpatterns.ops.roles import APP_ROLE, grant_app_privileges

    call_command("migrate", verbosity=0)  # migrated apps first: synced tables point at them
    call_command("migrate", run_syncdb=True, verbosity=0)
    connections["default"].ensure_connection()
    grant_app_privileges(connections["default"].connection, APP_ROLE.name)
