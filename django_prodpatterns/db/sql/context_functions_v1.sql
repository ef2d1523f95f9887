-- Version 1 of the signed context. The application sends one transaction-local setting,
--     prodpatterns.context = <signature: 64 hex digits><binding: 'b' or 'p'><payload>
-- where the payload is  tenant <US> actor <US> audit context (JSON)  (US = U+001F) and the
-- signature is HMAC-SHA256, under a key derived from the project's SECRET_KEY, of
--     <backend pid> ':' <payload>     ('b': bound to the backend that runs the statement)
--     '0' ':' <payload>               ('p': a pooled connection, whose backend the
--                                      application cannot know in advance)
-- The key lives in prodpatterns_private.context_key, which only the owner can read. A
-- value the application did not produce, or one copied from another backend (for example
-- out of pg_stat_activity), reads as no context at all: no tenant, so no rows (fail closed).
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_verified_context() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    raw text := current_setting('prodpatterns.context', true);
    k record;
BEGIN
    IF raw IS NULL OR length(raw) < 65 OR substr(raw, 65, 1) NOT IN ('b', 'p') THEN
        RETURN NULL;
    END IF;
    SELECT s.inner_key, s.outer_key INTO k FROM prodpatterns_private.context_key AS s;
    IF encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(
            CASE substr(raw, 65, 1) WHEN 'b' THEN pg_backend_pid()::text ELSE '0' END
            || ':' || substr(raw, 66), 'UTF8'))), 'hex') IS DISTINCT FROM left(raw, 64) THEN
        RETURN NULL;
    END IF;
    RETURN substr(raw, 66);
END
$fn$;
-- The current tenant's key as text (NULL without a verified context). Plain SQL, fully
-- schema-qualified and without a SET clause so that the planner can inline it; policies
-- call it in a scalar subquery, which PostgreSQL evaluates once per statement.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_tenant_id() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT nullif(pg_catalog.split_part(
        @schema@.prodpatterns_verified_context(), pg_catalog.chr(31), 1), '')
$fn$;
-- The current actor's key as text, for hand-written SQL (the audit trigger reads the
-- verified context itself).
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_actor_id() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT nullif(pg_catalog.split_part(
        @schema@.prodpatterns_verified_context(), pg_catalog.chr(31), 2), '')
$fn$
