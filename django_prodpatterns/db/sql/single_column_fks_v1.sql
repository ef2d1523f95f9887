-- Version 1: a foreign key between tenant models is enforced by its (tenant, key) foreign
-- key alone. Django also creates a single-column foreign key on the same column, and its
-- check ignores row level security too: next to the composite one it refuses an unused
-- key with a different error than another tenant's key (which of the two fires first
-- follows trigger names that carry OIDs), so the pair tells a tenant which keys exist in
-- other tenants. The single-column key adds nothing the composite one does not check when
-- the tenant column is NOT NULL, so it is dropped: on tables the running role owns, where
-- both reference the same table and the single one has no ON DELETE / ON UPDATE action.
DO $do$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT single.conname, single.conrelid::regclass AS tab, n.nspname
        FROM pg_catalog.pg_constraint AS composite
        JOIN pg_catalog.pg_constraint AS single
          ON single.conrelid = composite.conrelid AND single.confrelid = composite.confrelid
         AND single.contype = 'f'
         AND single.conkey = ARRAY[composite.conkey[2]]
         AND single.confkey = ARRAY[composite.confkey[2]]
         AND single.confdeltype = 'a' AND single.confupdtype = 'a'
        JOIN pg_catalog.pg_namespace AS n ON n.oid = single.connamespace
        JOIN pg_catalog.pg_class AS t ON t.oid = composite.conrelid
        JOIN pg_catalog.pg_attribute AS tenant
          ON tenant.attrelid = composite.conrelid AND tenant.attnum = composite.conkey[1]
        WHERE composite.contype = 'f' AND cardinality(composite.conkey) = 2
          AND tenant.attnotnull
          AND pg_catalog.pg_has_role(current_user, t.relowner, 'USAGE')
    LOOP
        -- As Django does: pending checks of the constraint run before it goes.
        EXECUTE format('SET CONSTRAINTS %I.%I IMMEDIATE', c.nspname, c.conname);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
    END LOOP;
END
$do$
