"""A project with its own UUID-keyed tenant model passes the leak-test kit.

The tenant model is a project-wide setting, so this runs ``tests/uuidtenants/leaks.py`` in
a child pytest with ``tests/settings_uuid.py``.
"""

from tests.childrun import run_pytest


def test_uuid_keyed_tenant_passes_the_leak_kit():
    status, summary, output = run_pytest("tests.settings_uuid", "tests/uuidtenants/leaks.py")
    assert status == 0, output
    assert "3 passed" in summary
