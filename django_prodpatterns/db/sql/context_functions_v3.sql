-- Version 3 of the signed context's functions: a value counts only while it is the
-- newest one the application signed for this session (issue 14, replay on the same
-- connection).
--
-- Version 2 bound a value to the backend's pid, and accepted any value signed for it. On a
-- persistent connection that serves one tenant and then another, the first request's
-- value stays readable in pg_stat_activity while the connection sits idle, and an
-- injection in a later request on the same connection could send it again: the pid
-- matched. Version 3 binds values to the session's verification state instead:
--
--   prodpatterns_private.open_context() starts that state once per session: a random
--   nonce and a counter floor, kept (with the remembered value) in settings whose names
--   are secret (the last value of prodpatterns_private.context_cache_a, which only the
--   owner can read; context_cache_b is no longer used). It returns "<nonce>:<floor>",
--   read by the application from the result, which pg_stat_activity never shows. Neither
--   is secret: signing needs the key.
--
--   A value the application signs for that session is
--       <signature: 64 hex><'n'><counter: 16 digits><payload>
--   with the signature over  <nonce> ':' <counter> ':' <payload>,  the counter rising by
--   one for every new value. set_context() remembers it only when it verifies and its
--   counter is above the floor, which then rises to it: a value once replaced by a newer
--   one never counts again. Anything else raises SQLSTATE PPC01, which makes the
--   application open the state again. A session whose settings were wiped (RESET ALL,
--   DISCARD ALL) has no nonce: everything signed before is refused, and open_context()
--   draws a new nonce.
--
--   The per-statement functions accept the remembered value only, and raise PPC01 for any
--   other value of this layout (a statement never runs silently without the context its
--   application sent): a value seen anywhere cannot be made to count again.
--
-- Connections through a pooler in transaction mode cannot keep a session's state (their
-- next transaction may run on another backend): they sign for any backend,
--       <signature><'q'><16 zeros><payload>,  signature over  '0' ':' <counter> ':' <payload>,
-- verified in full wherever they are not remembered (the security page says what that
-- leaves open). Values in version 1's layout ('b', 'p') are refused: set_context() raises
-- PPC01, so a process still running the previous release binds again.
CREATE OR REPLACE FUNCTION prodpatterns_private.verify_context(value text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k record;
BEGIN
    -- the full check, for pooled values only
    IF value IS NULL OR length(value) < 81 OR substr(value, 65, 1) <> 'q' THEN
        RETURN NULL;
    END IF;
    SELECT s.inner_key, s.outer_key INTO k FROM prodpatterns_private.context_key AS s;
    IF encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(
            '0:' || substr(value, 66, 16) || ':' || substr(value, 82), 'UTF8'))), 'hex')
            IS DISTINCT FROM left(value, 64) THEN
        RETURN NULL;
    END IF;
    RETURN substr(value, 82);
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.verify_context(text) FROM PUBLIC;
-- prodpatterns_private.refuse_context(): raises PPC01; what the per-statement functions
-- answer for a value of the session's layout that the session does not remember.
CREATE OR REPLACE FUNCTION prodpatterns_private.refuse_context() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'prodpatterns: context refused for this session'
        USING ERRCODE = 'PPC01',
              HINT = 'Open the session''s context again (prodpatterns_private.open_context()).';
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.refuse_context() FROM PUBLIC;
-- prodpatterns_private.open_context(): the session's verification state, started if it
-- has none; returns "<nonce>:<floor>".
CREATE OR REPLACE FUNCTION prodpatterns_private.open_context() RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    memory text := 'prodpatterns.c'
        || pg_sequence_last_value('prodpatterns_private.context_cache_a')::text;
    state text := current_setting(memory || '_f', true);
BEGIN
    IF coalesce(state, '') = '' THEN
        state := replace(gen_random_uuid()::text, '-', '') || ':' || repeat('0', 16);
        PERFORM set_config(memory || '_f', state, false);
        PERFORM set_config(memory, '', false);
    END IF;
    RETURN state;
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.open_context() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prodpatterns_private.open_context() TO PUBLIC;
-- prodpatterns_private.set_context(value): what the channel sends instead of SET LOCAL when
-- a value is new on its connection. Sets prodpatterns.context for the transaction and
-- remembers the value for the session (see above). Never runs inside a parallel query (it
-- is a statement of its own, and PARALLEL UNSAFE), the only place a setting can be
-- written from.
CREATE OR REPLACE FUNCTION prodpatterns_private.set_context(value text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    memory text := 'prodpatterns.c'
        || pg_sequence_last_value('prodpatterns_private.context_cache_a')::text;
    state text := current_setting(memory || '_f', true);
    counter text := substr(value, 66, 16);
    k record;
BEGIN
    PERFORM set_config('prodpatterns.context', coalesce(value, ''), true);
    IF value IS NULL OR value = '' OR value = current_setting(memory, true) THEN
        RETURN;
    END IF;
    IF substr(value, 65, 1) = 'q' THEN
        IF prodpatterns_private.verify_context(value) IS NOT NULL THEN
            PERFORM set_config(memory, value, false);
        END IF;
        RETURN;
    END IF;
    IF substr(value, 65, 1) = 'n' AND counter ~ '^[0-9]{16}$' AND coalesce(state, '') <> '' THEN
        IF counter::bigint > split_part(state, ':', 2)::bigint THEN
            SELECT s.inner_key, s.outer_key INTO k FROM prodpatterns_private.context_key AS s;
            IF encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(
                    split_part(state, ':', 1) || ':' || counter || ':' || substr(value, 82),
                    'UTF8'))), 'hex') = left(value, 64) THEN
                PERFORM set_config(memory || '_f', split_part(state, ':', 1) || ':' || counter, false);
                PERFORM set_config(memory, value, false);
                RETURN;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'prodpatterns: context refused for this session'
        USING ERRCODE = 'PPC01',
              HINT = 'Open the session''s context again (prodpatterns_private.open_context()).';
END
$fn$;
REVOKE ALL ON FUNCTION prodpatterns_private.set_context(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prodpatterns_private.set_context(text) TO PUBLIC;
-- prodpatterns_private.verified_part(value, n): part n (1 tenant, 2 actor) of a pooled value
-- that verifies, NULL when it does not or the part is empty.
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
-- What policies and triggers call, once per statement: the remembered value, else (pooled
-- values only) the full verification. Each is one expression (every statement of a
-- PL/pgSQL function costs a set-up in each transaction), and has no SET clause (which
-- would cost a setting change per call): every function, operator and type in them is
-- named with its schema, so the caller's search_path cannot reach them.
CREATE OR REPLACE FUNCTION @schema@.prodpatterns_verified_context() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER
AS $fn$
BEGIN
    RETURN CASE
        WHEN pg_catalog.current_setting('prodpatterns.c'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_a'::pg_catalog.regclass)::pg_catalog.text,
                true) OPERATOR(pg_catalog.=) pg_catalog.current_setting('prodpatterns.context', true)
        THEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 82)
        WHEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 65, 1)
                OPERATOR(pg_catalog.=) 'q'
        THEN prodpatterns_private.verify_context(pg_catalog.current_setting('prodpatterns.context', true))
        WHEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 65, 1)
                OPERATOR(pg_catalog.=) 'n'
        THEN prodpatterns_private.refuse_context()
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
        WHEN pg_catalog.current_setting('prodpatterns.c'
                OPERATOR(pg_catalog.||) pg_catalog.pg_sequence_last_value(
                    'prodpatterns_private.context_cache_a'::pg_catalog.regclass)::pg_catalog.text,
                true) OPERATOR(pg_catalog.=) pg_catalog.current_setting('prodpatterns.context', true)
        THEN CASE WHEN pg_catalog.split_part(pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 82), pg_catalog.chr(31), 1)
                OPERATOR(pg_catalog.<>) ''
            THEN pg_catalog.split_part(pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 82), pg_catalog.chr(31), 1) END
        WHEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 65, 1)
                OPERATOR(pg_catalog.=) 'q'
        THEN prodpatterns_private.verified_part(pg_catalog.current_setting('prodpatterns.context', true), 1)
        WHEN pg_catalog.substr(pg_catalog.current_setting('prodpatterns.context', true), 65, 1)
                OPERATOR(pg_catalog.=) 'n'
        THEN prodpatterns_private.refuse_context()
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
