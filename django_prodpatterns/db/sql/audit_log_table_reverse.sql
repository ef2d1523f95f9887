DROP TRIGGER IF EXISTS prodpatterns_auditlog_no_truncate ON prodpatterns_auditlog;
DROP TRIGGER IF EXISTS prodpatterns_auditlog_append_only ON prodpatterns_auditlog;
DROP FUNCTION IF EXISTS prodpatterns_audit_append_only();
DROP POLICY IF EXISTS prodpatterns_auditlog_tenant ON prodpatterns_auditlog;
ALTER TABLE prodpatterns_auditlog DISABLE ROW LEVEL SECURITY;
