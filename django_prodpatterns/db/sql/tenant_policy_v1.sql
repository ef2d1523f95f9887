-- Version 1 of a tenant table's row level security (db.constraints.RowLevelSecurity).
-- A released version never changes: a migration that names version 1 runs exactly this,
-- forever; a change ships as tenant_policy_v2.sql and a new migration (see
-- db/versioned.py). Placeholders in braces are filled with quoted names.
--
-- [requires]: what the condition calls, created first when missing ("signature file":
-- only when no function has that signature, so a newer version is never replaced).
-- [requires]
context_key_v1.sql;
context_cache_v1.sql;
prodpatterns_tenant_id() context_functions_v3.sql;
-- [condition]: USING and WITH CHECK. A scalar subquery, so PostgreSQL verifies the signed
-- context once per statement (an InitPlan) and "column = <this>" can use an index; no
-- verified tenant means NULL: no rows and no writes.
-- [condition]
{column} = (SELECT prodpatterns_tenant_id())::{cast};
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
