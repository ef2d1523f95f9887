-- Version 1 of a foreign key between tenant models over (tenant, key)
-- (db.constraints.TenantForeignKey). A released version never changes (see
-- db/versioned.py). Removing it puts Django's own single-column foreign key back (Django's
-- DDL, not part of this file).
-- [create]
ALTER TABLE {table} ADD CONSTRAINT {name}
FOREIGN KEY ({tenant_column}, {column})
REFERENCES {target_table} ({target_tenant_column}, {target_column})
DEFERRABLE INITIALLY DEFERRED;
-- [after]: files run at the end of the migration, once Django has made its own foreign
-- keys: the single-column one made redundant by this one goes.
-- [after]
single_column_fks_v1.sql;
-- [remove]
ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};
-- [rename]
ALTER TABLE {table} RENAME CONSTRAINT {name} TO {new_name};
