CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit() RETURNS trigger
LANGUAGE plpgsql
-- Version 3. The context comes from the signed setting, verified once per statement
-- (prodpatterns_verified_context(), context_functions_v1.sql): an actor, tenant or
-- request detail the application did not send is not recorded. SECURITY DEFINER: the
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
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes, snapshot,
            actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra)
        SELECT now(), label, r.j ->> pk, 'create', NULL, r.j,
            actor, ctx ->> 'actor_repr', coalesce(nullif(r.j ->> tenant_col, ''), tenant),
            ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
            ctx ->> 'reason', ctx -> 'extra'
        FROM (SELECT CASE WHEN redacted = '[]' THEN to_jsonb(n) ELSE
                        (SELECT jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)
                         FROM jsonb_each(to_jsonb(n)) AS e(k, v)) END AS j
              FROM new_rows n) AS r;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes, snapshot,
            actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra)
        SELECT now(), label, r.j ->> pk, 'delete', NULL, r.j,
            actor, ctx ->> 'actor_repr', coalesce(nullif(r.j ->> tenant_col, ''), tenant),
            ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
            ctx ->> 'reason', ctx -> 'extra'
        FROM (SELECT CASE WHEN redacted = '[]' THEN to_jsonb(o) ELSE
                        (SELECT jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)
                         FROM jsonb_each(to_jsonb(o)) AS e(k, v)) END AS j
              FROM old_rows o) AS r;
    ELSE
        -- MATERIALIZED: each row is turned into jsonb and diffed exactly once.
        WITH n AS MATERIALIZED (SELECT to_jsonb(x) AS j FROM new_rows x),
             o AS MATERIALIZED (SELECT to_jsonb(y) AS j FROM old_rows y),
             d AS MATERIALIZED (
                SELECT n.j ->> pk AS pk_value, o.j AS old_j, n.j AS new_j,
                    (SELECT jsonb_object_agg(
                                e.k,
                                CASE WHEN redacted ? e.k THEN jsonb_build_array(marker, marker)
                                     ELSE jsonb_build_array(o.j -> e.k, e.v) END)
                     FROM jsonb_each(n.j) AS e(k, v)
                     WHERE o.j -> e.k IS DISTINCT FROM e.v AND NOT ignored ? e.k) AS changes
                FROM n JOIN o ON (o.j ->> pk) = (n.j ->> pk)
             )
        INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes, snapshot,
            actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra)
        SELECT now(), label, d.pk_value,
            CASE
                WHEN d.old_j -> 'deleted_at' = 'null' AND d.new_j -> 'deleted_at' <> 'null'
                    THEN 'soft_delete'
                WHEN d.old_j -> 'deleted_at' <> 'null' AND d.new_j -> 'deleted_at' = 'null'
                    THEN 'restore'
                ELSE 'update'
            END,
            d.changes,
            CASE WHEN redacted = '[]' THEN d.new_j ELSE
                (SELECT jsonb_object_agg(k, CASE WHEN redacted ? k THEN marker ELSE v END)
                 FROM jsonb_each(d.new_j) AS e(k, v)) END,
            actor, ctx ->> 'actor_repr', coalesce(nullif(d.new_j ->> tenant_col, ''), tenant),
            ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
            ctx ->> 'reason', ctx -> 'extra'
        FROM d
        WHERE d.changes IS NOT NULL;
    END IF;
    RETURN NULL;
END
$fn$;
