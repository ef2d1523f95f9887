CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit_row() RETURNS trigger
LANGUAGE plpgsql
-- Version 1 of the row-by-row capture function, for tenant tables distributed on Citus
-- (db.audit.CitusAuditTriggers). A released version never changes (see db/versioned.py).
-- Citus runs a trigger of a distributed table on its shards, where statement triggers
-- cannot have transition tables, and a shard's query may write only to a shard of the
-- same tenant on the same node: so one entry per row, written into the log's shard of the
-- row's tenant (shard_tenant, see prodpatterns_private.distribute_log()). The entries are
-- those prodpatterns_audit() (audit_function_v6.sql) writes, with one difference: the
-- object key and tenant of an entry are always the row's own, also when their columns
-- are redacted (the snapshot still hides them). A backfill block is not honoured: rows
-- written in one are captured like any. Citus creates the function on every node; the
-- workers run it in their own sessions, from the signed context that reaches them.
-- SECURITY DEFINER: the capture path is the only writer of the log. The search_path is
-- pinned (pg_temp last) and the log is named with its schema.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
-- Arguments, as prodpatterns_audit()'s: 0 model label, 1 primary-key column, 2 tenant
-- column, 3 redacted columns (JSON array), 4 columns whose changes alone are no change
-- (JSON array).
DECLARE
    label text := TG_ARGV[0];
    pk text := TG_ARGV[1];
    tenant_col text := TG_ARGV[2];
    redacted jsonb := TG_ARGV[3]::jsonb;
    ignored jsonb := TG_ARGV[4]::jsonb;
    verified text := @schema@.prodpatterns_verified_context();
    ctx jsonb := coalesce(nullif(split_part(verified, chr(31), 3), '')::jsonb, '{}');
    marker jsonb := '"[redacted]"';
    j jsonb;
    old_j jsonb;
    stored jsonb;  -- the snapshot, redacted
    changes jsonb;
    kind text := lower(TG_OP);
    row_tenant text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        j := to_jsonb(OLD);
    ELSE
        j := to_jsonb(NEW);
    END IF;
    IF TG_OP = 'INSERT' THEN
        kind := 'create';
    ELSIF TG_OP = 'UPDATE' THEN
        old_j := to_jsonb(OLD);
        SELECT jsonb_object_agg(
                   e.k,
                   CASE WHEN redacted ? e.k THEN jsonb_build_array(marker, marker)
                        ELSE jsonb_build_array(old_j -> e.k, e.v) END)
        INTO changes
        FROM jsonb_each(j) AS e(k, v)
        WHERE old_j -> e.k IS DISTINCT FROM e.v AND NOT ignored ? e.k;
        IF changes IS NULL THEN
            RETURN NULL;
        END IF;
        kind := CASE
            WHEN old_j -> 'deleted_at' = 'null' AND j -> 'deleted_at' <> 'null' THEN 'soft_delete'
            WHEN old_j -> 'deleted_at' <> 'null' AND j -> 'deleted_at' = 'null' THEN 'restore'
            ELSE 'update'
        END;
    END IF;
    row_tenant := coalesce(nullif(j ->> tenant_col, ''), nullif(split_part(verified, chr(31), 1), ''));
    IF redacted <> '[]' THEN
        SELECT jsonb_object_agg(e.k, CASE WHEN redacted ? e.k THEN marker ELSE e.v END)
        INTO stored
        FROM jsonb_each(j) AS e(k, v);
    ELSE
        stored := j;
    END IF;
    -- INSERT ... VALUES: from a shard, Citus runs it as a local write to the log's shard;
    -- the same entry by INSERT ... SELECT took several times as long per row.
    INSERT INTO @schema@.prodpatterns_auditlog (timestamp, model, object_pk, action, changes,
        snapshot, actor_id, actor_repr, tenant_id, request_id, ip_address, user_agent, path,
        reason, extra, shard_tenant)
    VALUES (now(), label, j ->> pk, kind, changes, stored,
        nullif(split_part(verified, chr(31), 2), ''), ctx ->> 'actor_repr', row_tenant,
        ctx ->> 'request_id', ctx ->> 'ip_address', ctx ->> 'user_agent', ctx ->> 'path',
        ctx ->> 'reason', ctx -> 'extra',
        -- The text of the key in the log's column of the key's type, whatever that is.
        (jsonb_populate_record(NULL::@schema@.prodpatterns_auditlog,
                               jsonb_build_object('shard_tenant', row_tenant))).shard_tenant);
    RETURN NULL;
END
$fn$;
