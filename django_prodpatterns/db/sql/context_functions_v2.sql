-- Version 2 of the signed context's functions: version 1's verification (see
-- context_functions_v1.sql for the value's format and the key), plus the cache of
-- context_cache_v1.sql.
--
-- prodpatterns_private.verify_context(value): the full verification; the body (tenant <US>
-- actor <US> details) of a value the application signed for this backend, else NULL.
CREATE OR REPLACE FUNCTION prodpatterns_private.verify_context(value text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k record;
BEGIN
    IF value IS NULL OR length(value) < 65 OR substr(value, 65, 1) NOT IN ('b', 'p') THEN
        RETURN NULL;
    END IF;
    SELECT s.inner_key, s.outer_key INTO k FROM prodpatterns_private.context_key AS s;
    IF encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(
            CASE substr(value, 65, 1) WHEN 'b' THEN pg_backend_pid()::text ELSE '0' END
            || ':' || substr(value, 66), 'UTF8'))), 'hex') IS DISTINCT FROM left(value, 64) THEN
        RETURN NULL;
    END IF;
    RETURN substr(value, 66);
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.verify_context(text) FROM PUBLIC;
-- prodpatterns_private.set_context(value): what the channel sends instead of SET LOCAL when
-- a value is new on its connection. Sets prodpatterns.context for the transaction, and
-- remembers the value for the session when it verifies. Never runs inside a parallel
-- query (it is a statement of its own, and PARALLEL UNSAFE), the only place a setting
-- can be written from.
CREATE OR REPLACE FUNCTION prodpatterns_private.set_context(value text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM set_config('prodpatterns.context', coalesce(value, ''), true);
    IF prodpatterns_private.verify_context(value) IS NOT NULL THEN
        PERFORM set_config('prodpatterns.c'
            || pg_sequence_last_value('prodpatterns_private.context_cache_a')::text || '_'
            || pg_sequence_last_value('prodpatterns_private.context_cache_b')::text,
            value, false);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.set_context(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prodpatterns_private.set_context(text) TO PUBLIC;
-- prodpatterns_private.verified_part(value, n): part n (1 tenant, 2 actor) of a value that
-- verifies, NULL when it does not or the part is empty.
CREATE OR REPLACE FUNCTION prodpatterns_private.verified_part(value text, n integer)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN nullif(split_part(prodpatterns_private.verify_context(value), chr(31), n), '');
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.verified_part(text, integer) FROM PUBLIC;
-- What policies and triggers call, once per statement. A value equal to the remembered one
-- is answered without the HMAC; anything else goes to the full verification. Each is one
-- expression (every statement of a PL/pgSQL function costs a set-up in each transaction),
-- and has no SET clause (which would cost a setting change per call): every function,
-- operator and type in them is named with its schema, so the caller's search_path cannot
-- reach them.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_verified_context() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
AS $fn$
BEGIN
    RETURN CASE
        WHEN pg_catalog.current_setting('prodpatterns.context', true) IS NULL OR pg_catalog.current_setting('prodpatterns.context', true) OPERATOR(pg_catalog.=) '' THEN NULL
        WHEN pg_catalog.current_setting('prodpatterns.c'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_a'::pg_catalog.regclass)::pg_catalog.text
                OPERATOR(pg_catalog.||) '_'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_b'::pg_catalog.regclass)::pg_catalog.text,
                true) OPERATOR(pg_catalog.=) pg_catalog.current_setting('prodpatterns.context', true)
        THEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 66)
        ELSE prodpatterns_private.verify_context(pg_catalog.current_setting('prodpatterns.context', true))
    END;
END
$fn$;
-- The current tenant's key as text (NULL without a verified context). Policies call it in
-- a scalar subquery, which PostgreSQL evaluates once per statement. PL/pgSQL rather than
-- an inlinable SQL wrapper: inlining parses the wrapper again for every statement planned.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_tenant_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
AS $fn$
BEGIN
    RETURN CASE
        WHEN pg_catalog.current_setting('prodpatterns.context', true) IS NULL OR pg_catalog.current_setting('prodpatterns.context', true) OPERATOR(pg_catalog.=) '' THEN NULL
        WHEN pg_catalog.current_setting('prodpatterns.c'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_a'::pg_catalog.regclass)::pg_catalog.text
                OPERATOR(pg_catalog.||) '_'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_b'::pg_catalog.regclass)::pg_catalog.text,
                true) OPERATOR(pg_catalog.=) pg_catalog.current_setting('prodpatterns.context', true)
            AND pg_catalog.split_part(pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 66), pg_catalog.chr(31), 1)
                OPERATOR(pg_catalog.<>) ''
        THEN pg_catalog.split_part(pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 66), pg_catalog.chr(31), 1)
        ELSE prodpatterns_private.verified_part(pg_catalog.current_setting('prodpatterns.context', true), 1)
    END;
END
$fn$;
-- The current actor's key as text, for hand-written SQL (not on the per-statement path of
-- policies or triggers, so it reads the verified context rather than repeat its check).
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_actor_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
AS $fn$
DECLARE
    actor pg_catalog.text := pg_catalog.split_part(
        @schema@.prodpatterns_verified_context(), pg_catalog.chr(31), 2);
BEGIN
    RETURN CASE WHEN actor OPERATOR(pg_catalog.=) '' THEN NULL ELSE actor END;
END
$fn$
