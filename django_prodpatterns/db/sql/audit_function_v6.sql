CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit() RETURNS trigger
LANGUAGE plpgsql
-- Version 6: version 5, and where the log is distributed on Citus (Citus mode: the log
-- has a shard_tenant column) the entries reach it in a second statement. Citus runs an
-- INSERT ... SELECT into a distributed table as two executions, and the second cannot
-- see the trigger's transition tables ("could not find named tuplestore"): there each
-- branch gathers its entries into one jsonb array, which the INSERT reads, placing each
-- entry on the log's shard of its tenant. Elsewhere nothing changed: the branches insert
-- their entries as in version 5 (their CTEs are now fragments, used by both paths). In
-- Citus mode this function serves the tables on the coordinator (shared models, links,
-- a tenant table not distributed yet); distributed tenant tables are captured row by row
-- (audit_row_function_v1.sql).
-- Otherwise as version 5: a deliberate backfill (django_prodpatterns.backfill) writes no
-- per-row entries only when the verified context carries the block's marker, the block is
-- open in this transaction (prodpatterns.backfill_rows) and the session's login role has
-- the privileges of the audited table's owner; the skipped rows are counted in that
-- setting for the block's one "backfill" entry. The context comes from the signed setting,
-- verified once per statement (prodpatterns_verified_context()). SECURITY DEFINER: the
-- capture path is the only writer of the log; the application role has no INSERT on it.
-- The search_path is pinned (pg_temp last, so a temporary table can never stand in for
-- the log or the catalog) and the log is named with its schema.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Transition tables have no statistics: without this the planner may pair old and new
-- rows with a nested loop, quadratic in the number of rows a statement touched.
SET enable_nestloop = off
AS $fn$
-- One statement-level trigger function for every audited table. Arguments:
--   0 model label, 1 primary-key column, 2 tenant column ('' when the model has none),
--   3 redacted columns (JSON array), 4 columns whose changes alone are no change (JSON array)
DECLARE
    label text := TG_ARGV[0];
    pk text := TG_ARGV[1];
    tenant_col text := TG_ARGV[2];
    redacted jsonb := TG_ARGV[3]::jsonb;
    ignored jsonb := TG_ARGV[4]::jsonb;
    verified text := @schema@.prodpatterns_verified_context();
    ctx jsonb := coalesce(nullif(split_part(verified, chr(31), 3), '')::jsonb, '{}');
    actor text := nullif(split_part(verified, chr(31), 2), '');
    tenant text := nullif(split_part(verified, chr(31), 1), '');
    marker jsonb := '"[redacted]"';
    backfill text := nullif(ctx ->> 'backfill', '');
    skipped bigint;
    counts jsonb;
    bucket jsonb;
    kind text;
    -- The log distributed on Citus (it has the shard column then): the entries go
    -- through the array below (see the header).
    citus boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = '@schema@.prodpatterns_auditlog'::regclass
          AND a.attname = 'shard_tenant' AND NOT a.attisdropped);
    entries jsonb;
BEGIN
    IF backfill IS NOT NULL THEN
        counts := coalesce(
            nullif(current_setting('prodpatterns.backfill_rows', true), ''), '{}')::jsonb;
        IF counts ? backfill AND pg_catalog.pg_has_role(
            session_user,
            (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID),
            'USAGE'
        ) THEN
            IF TG_OP = 'DELETE' THEN
                SELECT count(*) INTO skipped FROM old_rows;
            ELSE
                SELECT count(*) INTO skipped FROM new_rows;
            END IF;
            kind := CASE TG_OP
                WHEN 'INSERT' THEN 'create' WHEN 'DELETE' THEN 'delete' ELSE 'update' END;
            bucket := counts -> backfill;
            bucket := bucket || jsonb_build_object(label, coalesce(bucket -> label, '{}')
                || jsonb_build_object(kind,
                    coalesce((bucket -> label ->> kind)::bigint, 0) + skipped));
            PERFORM set_config('prodpatterns.backfill_rows',
                (counts || jsonb_build_object(backfill, bucket))::text, true);
            RETURN NULL;
        END IF;
    END IF;
    -- A created or deleted row's key and tenant are read from its snapshot (redacted when
    -- the column is), an updated row's from the row itself: as in every earlier version.
    IF TG_OP = 'INSERT' THEN
        IF citus THEN
            WITH {{created_entry}}
            SELECT jsonb_agg(entry) INTO entries FROM entry;
        ELSE
            WITH {{created_entry}}
            {{insert_entries}};
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF citus THEN
            WITH {{deleted_entry}}
            SELECT jsonb_agg(entry) INTO entries FROM entry;
        ELSE
            WITH {{deleted_entry}}
            {{insert_entries}};
        END IF;
    ELSE
        IF citus THEN
            WITH {{updated_entry}}
            SELECT jsonb_agg(entry) INTO entries FROM entry;
        ELSE
            WITH {{updated_entry}}
            {{insert_entries}};
        END IF;
    END IF;
    IF entries IS NOT NULL THEN
        -- Each entry on the log's shard of its tenant (the row's, or the context's); those
        -- of no tenant on the shard of the column's default, the key type's zero.
        WITH {{gathered_entry}}
        INSERT INTO @schema@.prodpatterns_auditlog ({{log_columns}}, shard_tenant)
        SELECT {{log_values}},
            (jsonb_populate_record(NULL::@schema@.prodpatterns_auditlog,
                jsonb_build_object('shard_tenant', entry.shard_text))).shard_tenant
        FROM entry WHERE entry.shard_text IS NOT NULL;
        WITH {{gathered_entry}}
        INSERT INTO @schema@.prodpatterns_auditlog ({{log_columns}})
        SELECT {{log_values}}
        FROM entry WHERE entry.shard_text IS NULL;
    END IF;
    RETURN NULL;
END
$fn$;

-- [fragment created_entry]
-- The entries of the rows an INSERT created: a CTE named entry, as the INSERT reads it.
entry AS (
    SELECT r.j ->> pk AS object_pk, 'create' AS action, NULL::jsonb AS changes,
        r.j AS snapshot, r.j ->> tenant_col AS row_tenant
    FROM (SELECT
            {{redacted_snapshot}} AS j
          FROM (SELECT to_jsonb(n) AS j FROM new_rows n) AS s) AS r
)

-- [fragment deleted_entry]
-- The entries of the rows a DELETE removed.
entry AS (
    SELECT r.j ->> pk AS object_pk, 'delete' AS action, NULL::jsonb AS changes,
        r.j AS snapshot, r.j ->> tenant_col AS row_tenant
    FROM (SELECT
            {{redacted_snapshot}} AS j
          FROM (SELECT to_jsonb(o) AS j FROM old_rows o) AS s) AS r
)

-- [fragment updated_entry]
-- The entries of the rows an UPDATE changed (none for a row whose only change is to an
-- ignored column). MATERIALIZED: each row is turned into jsonb and diffed exactly once.
n AS MATERIALIZED (SELECT to_jsonb(x) AS j FROM new_rows x),
o AS MATERIALIZED (SELECT to_jsonb(y) AS j FROM old_rows y),
d AS MATERIALIZED (
    SELECT n.j ->> pk AS pk_value, o.j AS old_j, n.j AS j,
        (SELECT jsonb_object_agg(
                    e.k,
                    CASE WHEN redacted ? e.k THEN jsonb_build_array(marker, marker)
                         ELSE jsonb_build_array(o.j -> e.k, e.v) END)
         FROM jsonb_each(n.j) AS e(k, v)
         WHERE o.j -> e.k IS DISTINCT FROM e.v AND NOT ignored ? e.k) AS changes
    FROM n JOIN o ON (o.j ->> pk) = (n.j ->> pk)
),
entry AS (
    SELECT s.pk_value AS object_pk,
        CASE
            WHEN s.old_j -> 'deleted_at' = 'null' AND s.j -> 'deleted_at' <> 'null'
                THEN 'soft_delete'
            WHEN s.old_j -> 'deleted_at' <> 'null' AND s.j -> 'deleted_at' = 'null'
                THEN 'restore'
            ELSE 'update'
        END AS action,
        s.changes,
        {{redacted_snapshot}} AS snapshot,
        s.j ->> tenant_col AS row_tenant
    FROM d AS s
    WHERE s.changes IS NOT NULL
)

-- [fragment insert_entries]
-- The log's INSERT, of the rows of the CTE entry the branch names.
INSERT INTO @schema@.prodpatterns_auditlog ({{log_columns}})
SELECT {{log_values}}
FROM entry

-- [fragment log_columns]
-- The columns of an entry.
timestamp, model, object_pk, action, changes, snapshot,
    actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra

-- [fragment log_values]
-- Their values, from the row of the CTE entry and the context.
now(), label, entry.object_pk, entry.action, entry.changes, entry.snapshot,
    actor, ctx ->> 'actor_repr', coalesce(nullif(entry.row_tenant, ''), tenant),
    ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
    ctx ->> 'reason', ctx -> 'extra'

-- [fragment gathered_entry]
-- The entries gathered into the array, as the CTE entry, with the text of their tenant.
entry AS (
    SELECT e.*, coalesce(nullif(e.row_tenant, ''), tenant) AS shard_text
    FROM jsonb_to_recordset(entries)
        AS e(object_pk text, action text, changes jsonb, snapshot jsonb, row_tenant text)
)

-- [fragment redacted_snapshot]
-- The row s.j with the value of each redacted column replaced by the marker.
CASE WHEN redacted = '[]' THEN s.j ELSE
    (SELECT jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)
     FROM jsonb_each(s.j) AS e(k, v)) END
