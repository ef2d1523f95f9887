-- Version 1 of the database privileges the application role must not have.
DO $do$
DECLARE
    log regclass := format('%I.prodpatterns_auditlog', current_schema())::regclass;
    grantee text;
BEGIN
    -- Only the capture path (the SECURITY DEFINER trigger function) writes the log.
    FOR grantee IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                             ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
        FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
        WHERE c.oid = log AND a.grantee <> c.relowner
          AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format(
            'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %s FROM %s', log, grantee
        );
    END LOOP;
    -- Temporary objects are searched before everything else: a role that can create them
    -- can make one request's table stand in for an application table in a later request
    -- on the same connection. Only the database owner can take the privilege from PUBLIC;
    -- prodpatterns.W004 reports a database where that did not happen.
    IF pg_catalog.pg_has_role(
        current_user,
        (SELECT d.datdba FROM pg_catalog.pg_database AS d WHERE d.datname = current_database()),
        'USAGE'
    ) THEN
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    END IF;
END
$do$
