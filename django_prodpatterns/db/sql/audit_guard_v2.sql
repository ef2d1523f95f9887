-- Version 2 of the append-only guard: the search_path is pinned and the catalog named with
-- its schema, so a temporary table called pg_class cannot make a role look like the log's
-- owner. Not SECURITY DEFINER: it judges the role that runs the statement.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_audit_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT pg_catalog.pg_has_role(
        current_user,
        (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID),
        'USAGE'
    ) THEN
        RAISE EXCEPTION 'prodpatterns_auditlog is append-only (% refused for %)', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$fn$
