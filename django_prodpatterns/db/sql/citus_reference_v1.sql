-- Version 1 of the tenant model's layout on Citus (db.citus.ReferenceTable): a copy on
-- every node, so that every tenant table's foreign key to it is checked on its own shard.
-- A released version never changes (see db/versioned.py). {table_name} is a string literal
-- of the table's name.
-- [requires]
prodpatterns_private.make_reference(regclass) citus_functions_v1.sql;
-- [create]
SELECT prodpatterns_private.make_reference({table_name});
-- [remove]
SELECT prodpatterns_private.unmake_reference({table_name});
-- [after]: run at the end of the migration, once Django has made its foreign keys (see
-- prodpatterns_private.repair_sequences()).
-- [after]
SELECT prodpatterns_private.repair_sequences();
