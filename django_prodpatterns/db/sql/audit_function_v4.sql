CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit() RETURNS trigger
LANGUAGE plpgsql
-- Version 4: version 3 and a deliberate backfill (django_prodpatterns.backfill). A
-- statement writes no per-row entries only when all of these hold:
--   1. the verified context carries a backfill marker, the block's id ("backfill" in the
--      audit details the application signs: SQL can neither forge nor alter it, and
--      audit_context() cannot put it there; audit_backfill() alone sets it);
--   2. that block is open in this transaction: audit_backfill() opens it in the
--      transaction-local setting prodpatterns.backfill_rows ({"<id>": {}}) where its one
--      "backfill" entry will be written, so a connection that merely carries the marker
--      (another alias, a thread that copied the context) is logged row by row, and no
--      row is skipped that the entry does not count. Any role can write the setting: it
--      is no key, the next test is;
--   3. the session's login role has the privileges of the audited table's owner
--      (session_user, not current_user: inside this SECURITY DEFINER function
--      current_user is the function's owner, and a definer function the application role
--      may call would make it the owner too; session_user changes only through SET
--      SESSION AUTHORIZATION, which is for superusers). A role that passes can already
--      ALTER TABLE ... DISABLE TRIGGER: the backfill gives it nothing new. The
--      application role owns nothing and fails it, whatever context it sends (signed,
--      forged or replayed), so its writes are captured.
-- A skipped statement adds its rows to its block's counts in that setting,
-- {"<id>": {"<model label>": {"create"|"update"|"delete": rows}}}; a rollback, of the
-- transaction or a savepoint, takes the counts back with the rows.
-- As in version 3: the context comes from the signed setting, verified once per statement
-- (prodpatterns_verified_context(), context_functions_v3.sql): an actor, tenant or
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
