"""The tenant tables are laid out on the cluster as Citus mode says."""

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", "app"])


def test_tenant_tables_are_distributed_by_tenant_and_colocated():
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT logicalrelid::text, partmethod, colocationid,"
            " column_to_column_name(logicalrelid, partkey)"
            " FROM pg_dist_partition WHERE (logicalrelid::text LIKE 'citus_tenants_%'"
            " OR logicalrelid = '\"CitusLedger\"'::regclass) AND partmethod = 'h' ORDER BY 1"
        )
        rows = cursor.fetchall()
    assert [row[0] for row in rows] == [
        '"CitusLedger"',
        "citus_tenants_customer",
        "citus_tenants_order",
        "citus_tenants_orderline",
        "citus_tenants_product",
    ]
    assert {row[1] for row in rows} == {"h"}
    assert len({row[2] for row in rows}) == 1
    assert {row[3] for row in rows} == {"tenant_id"}


def test_the_database_key_is_tenant_and_key_under_the_users_names():
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = '\"CitusLedger\"'::regclass AND contype = 'p'"
        )
        assert cursor.fetchall() == [('PRIMARY KEY (tenant_id, "Entry No")',)]
