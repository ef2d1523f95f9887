-- Version 1 of a tenant table's layout on Citus (db.citus.DistributedTable): its primary
-- key becomes (tenant, key) and it is distributed by its tenant column. A released
-- version never changes (see db/versioned.py). {table_name}, {tenant_name}, {key_name},
-- {pk_name} and {tenant_table_name} are string literals of the names.
-- [requires]
prodpatterns_private.distribute(regclass,name,name,name,regclass) citus_functions_v1.sql;
-- [create]
SELECT prodpatterns_private.distribute({table_name}, {tenant_name}, {key_name}, {pk_name},
    {tenant_table_name});
-- [remove]
SELECT prodpatterns_private.undistribute({table_name}, {key_name}, {pk_name});
