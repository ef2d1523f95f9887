-- Version 1 of a tenant table's row level security on Citus (db.citus.CitusRowLevelSecurity).
-- A released version never changes (see db/versioned.py). Citus refuses any subquery in a
-- policy of a distributed table, so the condition calls the function directly; the
-- workers judge it on every shard, in their own sessions, from the signed context that
-- reaches them by SET LOCAL. Otherwise as tenant_policy_v1.sql.
-- [requires]
context_key_v1.sql;
context_cache_v1.sql;
prodpatterns_tenant_id() context_functions_v3.sql;
-- [condition]
{column} = prodpatterns_tenant_id()::{cast};
-- [create]
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY {policy} ON {table} USING ({condition}) WITH CHECK ({condition});
-- [remove]
DROP POLICY IF EXISTS {policy} ON {table};
ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
-- [rename]
ALTER POLICY {policy} ON {table} RENAME TO {new_name};
