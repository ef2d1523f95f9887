"""Projects with their own tenant model, keyed as users key them, pass the same checks.

The tenant model is a project-wide setting, so each shape runs in a child pytest with its
own settings module and test database: a 32-bit integer key (``tests/inttenants``), a
natural text key (``tests/chartenants``), both through ``tests/swapped_tenant_kit.py``, and a
UUID key (``tests/uuidtenants``, the leak kit). The exact passed count catches a child run
that silently collected less.

The children run at the same time: on the embedded PostgreSQL each starts its own server;
with ``DATABASE_URL`` they share one and create the same roles at the same moment, which
``ensure_role`` survives (``tests/test_roles_concurrency.py``).
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.childrun import run_pytest

SHAPES = [
    pytest.param("tests.settings_inttenant", "tests/swapped_tenant_checks.py", 7, id="integer"),
    pytest.param("tests.settings_chartenant", "tests/swapped_tenant_checks.py", 7, id="slug"),
    pytest.param("tests.settings_uuid", "tests/uuidtenants/leaks.py", 3, id="uuid"),
]


@pytest.fixture(scope="module")
def child_runs(request):
    """Start the child run of every selected shape; {settings: future of run_pytest()}."""
    selected = {
        item.callspec.params["settings"]: item.callspec.params["path"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    with ThreadPoolExecutor(max_workers=max(len(selected), 1)) as pool:
        yield {
            settings: pool.submit(run_pytest, settings, path) for settings, path in selected.items()
        }


@pytest.mark.parametrize(("settings", "path", "passed"), SHAPES)
def test_a_swapped_tenant_model_passes_the_checks(child_runs, settings, path, passed):
    status, summary, output = child_runs[settings].result()
    assert status == 0, output
    assert re.match(rf"{passed} passed(, \d+ warnings?)? in ", summary), output
