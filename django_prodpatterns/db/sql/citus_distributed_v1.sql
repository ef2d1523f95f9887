-- Version 1 of a tenant table's layout on Citus (db.citus.DistributedTable): its primary
-- key becomes (tenant, key) and it is distributed by its tenant column. A released
-- version never changes (see db/versioned.py). {table_name}, {tenant_name}, {key_name},
-- {pk_name} and {tenant_table_name} are string literals of the names; {tenant_tables} is
-- an array literal of every tenant table's name.
-- [requires]
prodpatterns_private.distribute(regclass,name,name,name,regclass,text[]) citus_functions_v1.sql;
-- [create]
SELECT prodpatterns_private.distribute({table_name}, {tenant_name}, {key_name}, {pk_name},
    {tenant_table_name}, {tenant_tables});
-- [remove]
SELECT prodpatterns_private.undistribute({table_name}, {key_name}, {pk_name});
-- [after]: run at the end of the migration, once Django has made its foreign keys (see
-- prodpatterns_private.repair_sequences()).
-- [after]
SELECT prodpatterns_private.repair_sequences();
