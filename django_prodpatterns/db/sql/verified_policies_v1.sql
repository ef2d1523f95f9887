-- Version 1: every policy on a table the migrating role owns that reads the raw tenant
-- setting (as the app generated it before the signed context) reads the verified tenant
-- instead. The raw setting is no longer sent, so a policy left reading it admits nothing.
DO $do$
DECLARE
    raw_tenant constant text :=
        'NULLIF(current_setting(''prodpatterns.tenant_id''::text, true), ''''::text)';
    verified constant text := '(SELECT @schema@.prodpatterns_tenant_id())';
    p record;
BEGIN
    FOR p IN
        SELECT pol.polname, pol.polrelid::regclass AS tab,
               pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) AS qual,
               pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check
        FROM pg_catalog.pg_policy AS pol
        JOIN pg_catalog.pg_class AS c ON c.oid = pol.polrelid
        WHERE pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
          AND (strpos(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), raw_tenant) > 0
               OR strpos(coalesce(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), ''),
                         raw_tenant) > 0)
    LOOP
        EXECUTE format('ALTER POLICY %I ON %s USING (%s)', p.polname, p.tab,
                       replace(p.qual, raw_tenant, verified));
        IF p.with_check IS NOT NULL THEN
            EXECUTE format('ALTER POLICY %I ON %s WITH CHECK (%s)', p.polname, p.tab,
                           replace(p.with_check, raw_tenant, verified));
        END IF;
    END LOOP;
END
$do$
