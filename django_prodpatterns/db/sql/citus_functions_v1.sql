-- Version 1 of the functions that lay out tables on Citus (db.citus). A released version
-- never changes (see db/versioned.py). They run as the migrating role (not SECURITY
-- DEFINER) and nobody else may call them. Each does nothing on a table already laid out,
-- so a migration that runs twice (or a table distributed by hand first) is no error. The
-- schema is the signed context's (context_key_v1.sql), whose privileges it leaves alone.
CREATE SCHEMA IF NOT EXISTS prodpatterns_private;
--
-- prodpatterns_private.is_laid_out(table): distributed, or a reference table.
CREATE OR REPLACE FUNCTION prodpatterns_private.is_laid_out(target regclass) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
                   WHERE p.logicalrelid = target AND (p.partmethod = 'h' OR p.repmodel = 't'))
$fn$;
-- Foreign keys set aside while tables are laid out (see distribute()), put back once both
-- ends are: a table of the migrating role's, kept across migrations.
CREATE TABLE IF NOT EXISTS prodpatterns_private.citus_held_keys (
    relation regclass NOT NULL,
    name name NOT NULL,
    referenced regclass NOT NULL,
    definition text NOT NULL,
    PRIMARY KEY (relation, name)
);
REVOKE ALL ON prodpatterns_private.citus_held_keys FROM PUBLIC;
-- prodpatterns_private.distribute_log(log, tenant table, table): the audit log distributed
-- beside the tenant tables, so that a capture trigger on a tenant table's shard writes its
-- entry into the log's shard of the same tenant, on the same node (Citus refuses any other
-- write from a shard's query). The log gets a column shard_tenant of the tenant key's type
-- (a distribution column cannot be generated; the log's tenant_id is text), filled from
-- tenant_id for the entries it has and by the row capture function for new ones; entries
-- of no tenant, and those the coordinator's tables write (shared models), hold the type's
-- zero. Its primary key becomes (shard_tenant, id), its policy takes the form Citus
-- accepts (no subquery), and it is colocated with table, already distributed.
CREATE OR REPLACE FUNCTION prodpatterns_private.distribute_log(
    log regclass, tenant_table regclass, colocated regclass
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_type text;
    zero text;
    pk name;
    here name;
    tenant_is text;
BEGIN
    IF prodpatterns_private.is_laid_out(log) THEN
        RETURN;
    END IF;
    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_catalog.pg_constraint AS c
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.conrelid = tenant_table AND c.contype = 'p';
    zero := CASE
        WHEN key_type IN ('smallint', 'integer', 'bigint') THEN '0'
        WHEN key_type = 'uuid' THEN '00000000-0000-0000-0000-000000000000'
        ELSE '' END;
    EXECUTE format('ALTER TABLE %s ADD COLUMN shard_tenant %s NOT NULL DEFAULT %L',
                   log, key_type, zero);
    EXECUTE format('UPDATE %s SET shard_tenant = tenant_id::%s WHERE tenant_id <> %L',
                   log, key_type, '');
    SELECT c.conname INTO pk FROM pg_catalog.pg_constraint AS c
    WHERE c.conrelid = log AND c.contype = 'p';
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', log, pk);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (shard_tenant, id)', log, pk);
    SELECT n.nspname INTO here FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = log;
    tenant_is := format('tenant_id IS NOT DISTINCT FROM %I.prodpatterns_tenant_id()', here);
    EXECUTE format('ALTER POLICY prodpatterns_auditlog_tenant ON %s USING (%s) WITH CHECK (%s)',
                   log, tenant_is, tenant_is);
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM pg_catalog.create_distributed_table(log, 'shard_tenant', colocate_with => colocated::text);
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.distribute_log(regclass, regclass, regclass)
    FROM PUBLIC;
-- prodpatterns_private.distribute(table, tenant column, key column, primary key name,
-- tenant table, tenant tables): the table's primary key becomes (tenant, key), which Citus
-- needs (every unique constraint of a distributed table includes its distribution
-- column), and the table is distributed by its tenant column, colocated with every other
-- tenant table (Citus colocates tables distributed by columns of one type by default).
-- The tenant table becomes a reference table if it is not one yet, and the audit log is
-- distributed beside the tenant tables (distribute_log()) if it is not yet.
--
-- A table with data, migrated before Citus mode, has foreign keys Citus refuses while it
-- moves: to and from tenant tables still on the coordinator, and to the tenant table
-- (which, made a reference table, would turn every tenant table tied to it into a "citus
-- local" table that cannot be distributed any more, and which Citus refuses to make of a
-- table with row level security). So the keys on or to the table, and the keys to the
-- tenant table of the other tenant tables (the names given: those migrations know of) and
-- of any table with row level security, are set aside first; each is put back once both
-- its ends are laid out: at the end of this call or of a later one. All in the caller's transaction, one connection per node
-- (Citus needs that once a reference table has foreign keys).
CREATE OR REPLACE FUNCTION prodpatterns_private.distribute(
    target regclass, tenant_column name, key_column name, key_name name, tenant_table regclass,
    tenant_tables text[]
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    pk name;
    k record;
    forced boolean;
    log regclass;
    -- The target's schema, quoted: the tables' names are resolved in it (this function's
    -- search_path is pinned to the catalog).
    here text := (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_class AS c
                  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                  WHERE c.oid = target);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
               WHERE p.logicalrelid = target AND p.partmethod = 'h') THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    FOR k IN
        SELECT c.conrelid::regclass AS relation, c.conname, c.confrelid::regclass AS referenced,
               pg_catalog.pg_get_constraintdef(c.oid) AS definition
        FROM pg_catalog.pg_constraint AS c
        WHERE c.contype = 'f'
          AND (c.conrelid = target OR c.confrelid = target
               OR (c.confrelid = tenant_table
                   AND (c.conrelid IN (SELECT pg_catalog.to_regclass(here || '.' || t)
                                       FROM pg_catalog.unnest(tenant_tables) AS t)
                        OR (SELECT r.relrowsecurity FROM pg_catalog.pg_class AS r
                            WHERE r.oid = c.conrelid))))
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
                          WHERE p.logicalrelid = c.conrelid)
    LOOP
        INSERT INTO prodpatterns_private.citus_held_keys
        VALUES (k.relation, k.conname, k.referenced, k.definition) ON CONFLICT DO NOTHING;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', k.relation, k.conname);
    END LOOP;
    SELECT c.conname INTO pk FROM pg_catalog.pg_constraint AS c
    WHERE c.conrelid = target AND c.contype = 'p';
    IF pk IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', target, pk);
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%I, %I)',
                   target, key_name, tenant_column, key_column);
    -- Citus copies the rows a table has into its shards with COPY, which row level
    -- security refuses even to the owner while it is FORCEd: lifted for the copy only.
    SELECT c.relforcerowsecurity INTO forced FROM pg_catalog.pg_class AS c WHERE c.oid = target;
    IF forced THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', target);
    END IF;
    -- A table with capture triggers (a project that audited it before Citus mode).
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM pg_catalog.create_distributed_table(target, tenant_column);
    IF forced THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    END IF;
    PERFORM prodpatterns_private.make_reference(tenant_table);
    -- The audit log, beside the tenant tables (the app's tables share one schema).
    log := pg_catalog.to_regclass(here || '.prodpatterns_auditlog');
    IF log IS NOT NULL THEN
        PERFORM prodpatterns_private.distribute_log(log, tenant_table, target);
    END IF;
    FOR k IN
        SELECT h.relation, h.name, h.definition
        FROM prodpatterns_private.citus_held_keys AS h
        WHERE prodpatterns_private.is_laid_out(h.relation)
          AND prodpatterns_private.is_laid_out(h.referenced)
    LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.relation, k.name, k.definition);
        DELETE FROM prodpatterns_private.citus_held_keys
        WHERE relation = k.relation AND name = k.name;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.distribute(regclass, name, name, name, regclass, text[])
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
REVOKE ALL ON FUNCTION prodpatterns_private.unmake_reference(regclass) FROM PUBLIC;
-- prodpatterns_private.repair_sequences(): Citus turns every table tied to a reference
-- table by foreign keys into a "citus local" table (the tenant table's neighbours: users,
-- content types, ...), and in doing so starts its identity and serial sequences again
-- from 1 (seen with Citus 13.2): the next insert into a table that has rows would take a
-- key in use. Each sequence of a table on the coordinator that Citus manages is set past
-- the largest key its table holds (never back). Run at the end of every migration that
-- lays tables out, after Django's foreign keys.
CREATE OR REPLACE FUNCTION prodpatterns_private.repair_sequences() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
BEGIN
    FOR s IN
        SELECT p.logicalrelid AS relation, a.attname,
               pg_catalog.pg_get_serial_sequence(p.logicalrelid::text, a.attname) AS sequence
        FROM pg_catalog.pg_dist_partition AS p
        JOIN pg_catalog.pg_attribute AS a
          ON a.attrelid = p.logicalrelid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE p.partmethod = 'n'
          AND pg_catalog.pg_get_serial_sequence(p.logicalrelid::text, a.attname) IS NOT NULL
    LOOP
        EXECUTE format(
            'SELECT pg_catalog.setval(%L, greatest(x.m, q.last_value), true)'
            ' FROM (SELECT max(%I) AS m FROM %s) AS x, %s AS q WHERE x.m IS NOT NULL',
            s.sequence, s.attname, s.relation, s.sequence);
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.repair_sequences() FROM PUBLIC
