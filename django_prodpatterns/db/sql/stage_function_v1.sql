-- Version 1. A staging table for COPY-speed bulk inserts (django_prodpatterns.bulk), made
-- for a role that may not create temporary tables. PostgreSQL refuses COPY FROM into a
-- table with row level security, so rows are copied into this table and moved with one
-- INSERT ... SELECT that the table's policy judges. SECURITY DEFINER so that the
-- application role needs no TEMPORARY privilege (with it, one request's temporary table
-- could stand in for an application table in a later request on the same connection).
-- The function names the table itself (no caller-chosen name can shadow anything), copies
-- only the structure of the named columns (WITH NO DATA), and the table is dropped at
-- commit. Temporary tables are private to their session, so granting it to PUBLIC lets
-- the calling session, and only it, fill and read it.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_stage(target regclass, columns text[])
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    stage text := 'prodpatterns_stage_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
    IF columns IS NULL OR cardinality(columns) = 0 THEN
        RAISE EXCEPTION 'prodpatterns_stage needs at least one column';
    END IF;
    EXECUTE format(
        'CREATE TEMPORARY TABLE pg_temp.%I ON COMMIT DROP AS SELECT %s, NULL::bigint AS prodpatterns_ordinal FROM %s WITH NO DATA',
        stage,
        (SELECT string_agg(format('%I', c), ', ') FROM unnest(columns) AS c),
        target
    );
    EXECUTE format('GRANT SELECT, INSERT ON pg_temp.%I TO PUBLIC', stage);
    RETURN 'pg_temp.' || quote_ident(stage);
END
$fn$
