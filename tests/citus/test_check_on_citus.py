"""``prodpatterns check`` on the cluster: the Citus layout is what the models say, and a
policy changed on the coordinator is found."""

import pytest
from django.db import connections

from django_prodpatterns.checks import check_database_roles
from django_prodpatterns.ops import drift

pytestmark = pytest.mark.django_db(databases=["default", "app"], transaction=True)


def test_a_cluster_laid_out_by_its_migrations_has_no_drift():
    """The drift check reads the Citus layout as the models describe it. The one app the
    session leaves at its migration from before Citus mode (until test_switch_to_citus
    moves it) differs exactly there: the policies' form, two tables not distributed, their
    keys to the tenant table set aside, one table's capture triggers still the
    statement-level ones of one server, and its key to the other deferred."""
    found = drift.differences(connections["default"])
    assert [line for line in found if not line.startswith("citus_switched")] == []
    assert sum("tenant_rls" in line for line in found) == 4  # USING and WITH CHECK, twice
    assert sorted(line for line in found if "not distributed" in line) == [
        "citus_switched.Account (citus_switched_account): not distributed",
        "citus_switched.Invoice (citus_switched_invoice): not distributed",
    ]
    assert sum("set aside" in line for line in found) == 2
    triggers = [line for line in found if "audit trigger" in line]
    assert len(triggers) == 10  # type and function of 3, transition tables: 4
    assert all("citus_switched_account_audit_" in line for line in triggers)
    assert sum("expected 'prodpatterns_audit_row()'" in line for line in triggers) == 3
    (key,) = [line for line in found if "tenant key" in line]
    assert key.startswith("citus_switched.Invoice.account") and "INITIALLY DEFERRED," in key
    assert len(found) == 19


def test_an_opened_policy_on_a_distributed_table_is_found():
    table, policy = "citus_tenants_product", "citus_tenants_product_tenant_rls"
    with connections["default"].cursor() as cursor:
        cursor.execute(f"ALTER POLICY {policy} ON {table} USING (true)")
    try:
        found = drift.differences(connections["default"])
        assert [line for line in found if policy in line and "USING (true)" in line]
    finally:
        with connections["default"].cursor() as cursor:
            condition = "(tenant_id = (prodpatterns_tenant_id())::bigint)"
            cursor.execute(f"ALTER POLICY {policy} ON {table} USING {condition}")


def test_a_role_that_does_not_forward_set_local_is_an_error():
    """Without citus.propagate_set_commands = 'local' the context reaches no shard and
    every tenant query returns nothing: E044 says so for the alias."""
    assert check_database_roles(databases=["app"]) == []
    with connections["app"].cursor() as cursor:
        cursor.execute("SET citus.propagate_set_commands = 'none'")
    try:
        messages = check_database_roles(databases=["app"])
    finally:
        with connections["app"].cursor() as cursor:
            cursor.execute("RESET citus.propagate_set_commands")
    assert [m.id for m in messages] == ["prodpatterns.E044"]
    assert "'none'" in messages[0].msg
