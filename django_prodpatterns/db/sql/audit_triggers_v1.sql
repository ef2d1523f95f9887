-- Version 1 of an audited table's capture triggers (db.audit.AuditTriggers): statement
-- level, with transition tables. A released version never changes (see db/versioned.py).
-- {arguments} are the trigger function's arguments: label, pk column, tenant column,
-- redacted fields (JSON), ignored fields (JSON), each a quoted literal.
-- [requires]
context_key_v1.sql;
context_cache_v1.sql;
prodpatterns_tenant_id() context_functions_v3.sql;
prodpatterns_audit() audit_function_v4.sql;
-- [create]
CREATE TRIGGER {name_ins} AFTER INSERT ON {table}
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({arguments});
CREATE TRIGGER {name_upd} AFTER UPDATE ON {table}
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({arguments});
CREATE TRIGGER {name_del} AFTER DELETE ON {table}
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION prodpatterns_audit({arguments});
-- [remove]
DROP TRIGGER IF EXISTS {name_ins} ON {table};
DROP TRIGGER IF EXISTS {name_upd} ON {table};
DROP TRIGGER IF EXISTS {name_del} ON {table};
