-- Version 1 of a distributed tenant table's capture triggers (db.audit.CitusAuditTriggers):
-- row level, as Citus runs triggers on the shards (see audit_row_function_v1.sql). A
-- released version never changes (see db/versioned.py). {arguments} are the function's
-- arguments, as for audit_triggers_v1.sql. The log is laid out beside the tenant tables by
-- the first table's layout (prodpatterns_private.distribute_log()), before these.
-- [requires]
context_key_v1.sql;
context_cache_v1.sql;
prodpatterns_tenant_id() context_functions_v3.sql;
prodpatterns_audit_row() audit_row_function_v1.sql;
-- [create]
SELECT pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
SELECT pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
CREATE TRIGGER {name_ins} AFTER INSERT ON {table}
FOR EACH ROW EXECUTE FUNCTION prodpatterns_audit_row({arguments});
CREATE TRIGGER {name_upd} AFTER UPDATE ON {table}
FOR EACH ROW EXECUTE FUNCTION prodpatterns_audit_row({arguments});
CREATE TRIGGER {name_del} AFTER DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION prodpatterns_audit_row({arguments});
-- [remove]
DROP TRIGGER IF EXISTS {name_ins} ON {table};
DROP TRIGGER IF EXISTS {name_upd} ON {table};
DROP TRIGGER IF EXISTS {name_del} ON {table};
