CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit() RETURNS trigger
LANGUAGE plpgsql
-- Version 5: version 4's behaviour, statement for statement; only the source changed. The
-- INSERT into the log and the redaction of a snapshot are written once, as fragments at
-- the end of this file, and used by the INSERT, DELETE and UPDATE branches
-- (db/versioned.py expands them: what migrations run and PostgreSQL stores is the
-- expanded text). Each branch names its log entries in a CTE, entry(object_pk, action,
-- changes, snapshot, row_tenant), that the INSERT reads. One static statement per branch,
-- as before: a transition table exists only for the event it was declared for.
-- As in version 4: a deliberate backfill (django_prodpatterns.backfill) writes no per-row
-- entries only when the verified context carries the block's marker, the block is open
-- in this transaction (prodpatterns.backfill_rows) and the session's login role has the
-- privileges of the audited table's owner; the skipped rows are counted in that setting
-- for the block's one "backfill" entry. The context comes from the signed setting,
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
        WITH entry AS (
            SELECT r.j ->> pk AS object_pk, 'create' AS action, NULL::jsonb AS changes,
                r.j AS snapshot, r.j ->> tenant_col AS row_tenant
            FROM (SELECT
                    {{redacted_snapshot}} AS j
                  FROM (SELECT to_jsonb(n) AS j FROM new_rows n) AS s) AS r
        )
        {{insert_entries}};
    ELSIF TG_OP = 'DELETE' THEN
        WITH entry AS (
            SELECT r.j ->> pk AS object_pk, 'delete' AS action, NULL::jsonb AS changes,
                r.j AS snapshot, r.j ->> tenant_col AS row_tenant
            FROM (SELECT
                    {{redacted_snapshot}} AS j
                  FROM (SELECT to_jsonb(o) AS j FROM old_rows o) AS s) AS r
        )
        {{insert_entries}};
    ELSE
        -- MATERIALIZED: each row is turned into jsonb and diffed exactly once.
        WITH n AS MATERIALIZED (SELECT to_jsonb(x) AS j FROM new_rows x),
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
        {{insert_entries}};
    END IF;
    RETURN NULL;
END
$fn$;

-- [fragment insert_entries]
-- The log's INSERT, of the rows of the CTE entry the branch names.
INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes, snapshot,
    actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra)
SELECT now(), label, entry.object_pk, entry.action, entry.changes, entry.snapshot,
    actor, ctx ->> 'actor_repr', coalesce(nullif(entry.row_tenant, ''), tenant),
    ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
    ctx ->> 'reason', ctx -> 'extra'
FROM entry

-- [fragment redacted_snapshot]
-- The row s.j with the value of each redacted column replaced by the marker.
CASE WHEN redacted = '[]' THEN s.j ELSE
    (SELECT jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)
     FROM jsonb_each(s.j) AS e(k, v)) END
