"""The example shop on the cluster: its models distributed by store, its admin used by
its staff (tests/citus/shop/). Run in a child pytest: the shop's tenant model (its Store)
is not the one the other Citus tests are migrated with."""

from tests.childrun import run_pytest
from tests.citus.conftest import SHOP_RUN


def test_the_example_shop_runs_on_the_cluster(monkeypatch):
    monkeypatch.setenv(SHOP_RUN, "1")
    status, summary, output = run_pytest(
        "tests.citus.shop.settings", "-c", "tests/citus/pytest.ini", "tests/citus/shop"
    )
    assert status == 0, output
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, output
    assert int(summary.split(" passed")[0].split()[-1]) >= 3, output
