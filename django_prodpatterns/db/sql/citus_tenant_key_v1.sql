-- Version 1 of a foreign key between distributed tenant tables over (tenant, key)
-- (db.citus.CitusTenantForeignKey). A released version never changes (see
-- db/versioned.py). As tenant_key_v1.sql, but checked at once, not at commit: Citus checks
-- a deferred key on the worker when the transaction commits, where a violation (another
-- tenant's row referenced) ends in Citus's "could not commit transaction" and not in the
-- foreign key error, and SET CONSTRAINTS does not reach the workers. In Citus mode Django
-- makes no single-column key beside it (db_constraint=False), so there is none to drop.
-- [create]
ALTER TABLE {table} ADD CONSTRAINT {name}
FOREIGN KEY ({tenant_column}, {column})
REFERENCES {target_table} ({target_tenant_column}, {target_column})
NOT DEFERRABLE;
-- [remove]
ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};
-- [rename]
ALTER TABLE {table} RENAME CONSTRAINT {name} TO {new_name};
