-- Row level security: a tenant sees its own entries; without a tenant, only entries that
-- belong to no tenant. Not FORCEd: the owner (migrations, prune_audit) is exempt.
ALTER TABLE prodpatterns_auditlog ENABLE ROW LEVEL SECURITY;
CREATE POLICY prodpatterns_auditlog_tenant ON prodpatterns_auditlog
    USING (tenant_id IS NOT DISTINCT FROM nullif(current_setting('prodpatterns.tenant_id', true), ''))
    WITH CHECK (tenant_id IS NOT DISTINCT FROM nullif(current_setting('prodpatterns.tenant_id', true), ''));
-- Append-only for everyone but the table's owner.
CREATE OR REPLACE FUNCTION prodpatterns_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RAISE EXCEPTION 'prodpatterns_auditlog is append-only (% refused for %)', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER prodpatterns_auditlog_append_only BEFORE UPDATE OR DELETE ON prodpatterns_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit_append_only();
CREATE TRIGGER prodpatterns_auditlog_no_truncate BEFORE TRUNCATE ON prodpatterns_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit_append_only();
