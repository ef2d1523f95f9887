-- Version 1 of the signed context's verification cache (issue 14: the signed context
-- within 10 microseconds per statement).
--
-- Verifying the HMAC costs about 20 microseconds per statement. The application sends a
-- new value only once per context (the first statement of a request, say) through
-- prodpatterns_private.set_context(), which verifies it and remembers it, for the rest of
-- the session, in a setting whose name is secret: prodpatterns.c<a>_<b>, where a and b are
-- the last values of the two sequences below (124 random bits that only the owner can
-- read). Later statements carry the same value in a plain SET LOCAL; the functions the
-- policies call find it equal to the remembered one and skip the HMAC.
--
-- Why this holds against an injection running as the application role: a placeholder
-- setting is invisible to pg_settings and SHOW ALL, so the role can neither read nor set
-- a setting it cannot name; the remembered value was verified for this backend, so it is
-- exactly as good as verifying it again; and anything not equal to it is verified in full.
-- The names change with the key (install_key), so values remembered under an old key stop
-- counting.
CREATE SEQUENCE IF NOT EXISTS prodpatterns_private.context_cache_a;
CREATE SEQUENCE IF NOT EXISTS prodpatterns_private.context_cache_b;
REVOKE ALL ON SEQUENCE prodpatterns_private.context_cache_a FROM PUBLIC;
REVOKE ALL ON SEQUENCE prodpatterns_private.context_cache_b FROM PUBLIC;
-- Random names from the start (gen_random_uuid() draws from a strong random source); the
-- key, when written, draws new ones. Never on a second run: names in use stay.
SELECT pg_catalog.setval(s.seq,
    ('x' || pg_catalog.substr(pg_catalog.md5(pg_catalog.gen_random_uuid()::text), 1, 15))::bit(60)::bigint + 1)
FROM (VALUES ('prodpatterns_private.context_cache_a'::regclass, (SELECT is_called FROM prodpatterns_private.context_cache_a)),
             ('prodpatterns_private.context_cache_b'::regclass, (SELECT is_called FROM prodpatterns_private.context_cache_b))) AS s (seq, is_called)
WHERE NOT s.is_called;
-- The application role calls prodpatterns_private.set_context() by its full name, so no
-- search_path can put another function in its place; it needs USAGE on the schema for
-- that. The key table and the sequences stay without any grant.
GRANT USAGE ON SCHEMA prodpatterns_private TO PUBLIC
