-- Version 1 of the row level security of a many-to-many link table that has no tenant
-- column (db.constraints.ThroughRowLevelSecurity). A released version never changes (see
-- db/versioned.py). A link shows only when both ends are visible, and the ends' own
-- policies make that "both in the current tenant".
-- [condition]
EXISTS (SELECT 1 FROM {first_table} AS t WHERE t.{first_key} = {table}.{first_column})
AND EXISTS (SELECT 1 FROM {second_table} AS t WHERE t.{second_key} = {table}.{second_column});
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
