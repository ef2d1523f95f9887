"""Tenant isolation on the cluster, as the application role, in autocommit and inside
transactions: the signed context reaches the workers' shards, and nothing else does."""

import pytest
from django.db import DatabaseError, connections, transaction

from django_prodpatterns.context import tenant_context
from django_prodpatterns.db import signing
from tests.citus.tenants.models import Customer

pytestmark = pytest.mark.django_db(databases=["default", "app", "cross_tenant"], transaction=True)

APP = "app"


def _raw(sql, params=(), using=APP):
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def two_tenants(tenant_pair):
    a, b = tenant_pair
    with tenant_context(a):
        Customer.objects.using(APP).create(name="a1", email="a1@x")
        Customer.objects.using(APP).create(name="a2", email="a2@x")
    with tenant_context(b):
        Customer.objects.using(APP).create(name="b1", email="b1@x")
    yield a, b
    for tenant in (a, b):
        with tenant_context(tenant):
            Customer.all_objects.using(APP).all().hard_delete()


@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic"])
def test_each_tenant_reads_its_own_rows_only(two_tenants, atomic):
    a, b = two_tenants
    for tenant, names in ((a, ["a1", "a2"]), (b, ["b1"])):
        with tenant_context(tenant):
            if atomic:
                with transaction.atomic(using=APP):
                    seen = sorted(c.name for c in Customer.objects.using(APP).all())
                    raw = _raw("SELECT count(*) FROM citus_tenants_customer")
            else:
                seen = sorted(c.name for c in Customer.objects.using(APP).all())
                raw = _raw("SELECT count(*) FROM citus_tenants_customer")
        assert seen == names
        # Raw SQL without a tenant filter fans out to every shard; each shard's policy
        # admits the current tenant's rows only.
        assert raw == [(len(names),)]


def test_no_context_reads_nothing_on_any_shard(two_tenants):
    assert _raw("SELECT count(*) FROM citus_tenants_customer") == [(0,)]


def test_a_forged_setting_reads_nothing(two_tenants):
    """set_config() is not forwarded to the workers, and a value not signed by the
    application verifies nowhere: the shards admit nothing."""
    a, _ = two_tenants
    forged = f"{'0' * 64}q{'0' * 16}{a.pk}"
    with transaction.atomic(using=APP):
        _raw("SELECT set_config('prodpatterns.context', %s, true)", [forged])
        assert _raw("SELECT count(*) FROM citus_tenants_customer") == [(0,)]
    with transaction.atomic(using=APP):
        _raw(f"SET LOCAL prodpatterns.context = '{forged}'")
        assert _raw("SELECT count(*) FROM citus_tenants_customer") == [(0,)]


def test_another_tenants_row_cannot_be_written(two_tenants):
    a, b = two_tenants
    with tenant_context(a), pytest.raises(DatabaseError, match="row-level security"):
        _raw(
            "INSERT INTO citus_tenants_customer (tenant_id, name, email, created_at, updated_at)"
            " VALUES (%s, 'x', 'x@x', now(), now())",
            [b.pk],
        )
    with tenant_context(b):
        assert Customer.objects.using(APP).count() == 1


def test_the_cross_tenant_role_reads_every_tenant(two_tenants):
    assert Customer.all_objects.cross_tenant().count() == 3


def _shards(table):
    """Each worker's address and the names of the table's shards placed there."""
    rows = _raw(
        "SELECT nodename, nodeport, shard_name(logicalrelid, shardid)"
        " FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)"
        " JOIN pg_dist_node USING (groupid) WHERE logicalrelid = %s::regclass",
        [table],
        using="default",
    )
    shards = {}
    for host, port, shard in rows:
        shards.setdefault((host, port), []).append(shard)
    return shards


def test_the_shards_themselves_admit_nothing_without_the_signed_context(two_tenants, settings):
    """An attacker with the application role's credentials who connects to a worker (or
    makes the coordinator run SQL there) reads the shards under their own policies."""
    import psycopg

    a, _ = two_tenants
    app = settings.DATABASES[APP]
    shards = _shards("citus_tenants_customer")
    assert len(shards) == 2  # both workers hold shards
    forged = f"{'0' * 64}q{'0' * 16}{a.pk}"
    for (host, port), names in shards.items():
        with psycopg.connect(
            host=host, port=port, user=app["USER"], password=app["PASSWORD"], dbname=app["NAME"]
        ) as conn:
            for name in names:
                assert conn.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)
            conn.execute("SELECT set_config('prodpatterns.context', %s, false)", [forged])
            for name in names:
                assert conn.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)
    with tenant_context(a):
        # Through the coordinator, on every shard: the workers run it as the application
        # role in sessions of their own, without the transaction's context.
        results = _raw(
            "SELECT success, result FROM run_command_on_shards('citus_tenants_customer',"
            " 'SELECT count(*) FROM %%s')",
            [],
        )
    assert len(results) == 32
    assert set(results) == {(True, "0")}


def test_the_layout_functions_are_the_owners_only():
    for call in (
        "SELECT prodpatterns_private.make_reference('citus_tenants_customer')",
        "SELECT prodpatterns_private.undistribute('citus_tenants_customer', 'id', 'x')",
    ):
        with pytest.raises(DatabaseError, match="permission denied"):
            _raw(call)


def test_the_context_goes_to_the_workers_signed_for_any_backend(two_tenants):
    """The workers judge the policies in sessions of their own: the value is the layout
    for any backend ('q'), sent by SET LOCAL (no set_context(), whose memory stays on the
    coordinator), as a statement of its own."""
    a, _ = two_tenants
    with tenant_context(a):
        ((value,),) = _raw("SELECT current_setting('prodpatterns.context', true)")
    binding = signing.binding_of(connections[APP])
    assert (binding.citus, binding.set_context, binding.pid) == (True, False, 0)
    assert value[64] == signing.ANY_BACKEND
