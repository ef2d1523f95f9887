-- Version 1 of the functions that lay out tables on Citus (db.citus). A released version
-- never changes (see db/versioned.py). They run as the migrating role (not SECURITY
-- DEFINER) and nobody else may call them. Each does nothing on a table already laid out,
-- so a migration that runs twice (or a table distributed by hand first) is no error. The
-- schema is the signed context's (context_key_v1.sql), whose privileges it leaves alone.
CREATE SCHEMA IF NOT EXISTS prodpatterns_private;
--
-- prodpatterns_private.distribute(table, tenant column, key column, primary key name,
-- tenant table): the table's primary key becomes (tenant, key), which Citus needs (every
-- unique constraint of a distributed table includes its distribution column), and the
-- table is distributed by its tenant column, colocated with every other tenant table
-- (Citus colocates tables distributed by columns of one type by default). The tenant
-- table becomes a reference table first if it is not one yet: a distributed table may
-- reference a reference table only.
CREATE OR REPLACE FUNCTION prodpatterns_private.distribute(
    target regclass, tenant_column name, key_column name, key_name name, tenant_table regclass
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    pk name;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
               WHERE p.logicalrelid = target AND p.partmethod = 'h') THEN
        RETURN;
    END IF;
    SELECT c.conname INTO pk FROM pg_catalog.pg_constraint AS c
    WHERE c.conrelid = target AND c.contype = 'p';
    IF pk IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', target, pk);
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%I, %I)',
                   target, key_name, tenant_column, key_column);
    PERFORM prodpatterns_private.make_reference(tenant_table);
    PERFORM pg_catalog.create_distributed_table(target, tenant_column);
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.distribute(regclass, name, name, name, regclass)
    FROM PUBLIC;
-- prodpatterns_private.undistribute(table, key column, primary key name): back to one
-- table on the coordinator with its single-column primary key.
CREATE OR REPLACE FUNCTION prodpatterns_private.undistribute(
    target regclass, key_column name, key_name name
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = target) THEN
        PERFORM pg_catalog.undistribute_table(target);
    END IF;
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', target, key_name);
    EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%I)', target, key_column);
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.undistribute(regclass, name, name) FROM PUBLIC;
-- prodpatterns_private.make_reference(table): a copy of the table on every node (the
-- tenant model, which every tenant table references).
CREATE OR REPLACE FUNCTION prodpatterns_private.make_reference(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
                   WHERE p.logicalrelid = target AND p.partmethod = 'n'
                     AND p.repmodel = 't') THEN
        PERFORM pg_catalog.create_reference_table(target);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.make_reference(regclass) FROM PUBLIC;
-- prodpatterns_private.unmake_reference(table): back to one table on the coordinator.
CREATE OR REPLACE FUNCTION prodpatterns_private.unmake_reference(target regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = target) THEN
        PERFORM pg_catalog.undistribute_table(target, cascade_via_foreign_keys => true);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.unmake_reference(regclass) FROM PUBLIC
