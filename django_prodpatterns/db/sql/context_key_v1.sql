-- Version 1 of the signed context's key store: a schema of its own, which the application
-- role cannot even look into (blanket grants on the application's schema never reach it).
-- The key is written after every migrate (django_prodpatterns.db.signing), from the
-- project's SECRET_KEY, as HMAC's inner and outer padded keys.
CREATE SCHEMA IF NOT EXISTS prodpatterns_private;
REVOKE ALL ON SCHEMA prodpatterns_private FROM PUBLIC;
CREATE TABLE IF NOT EXISTS prodpatterns_private.context_key (
    id integer PRIMARY KEY CHECK (id = 1),
    inner_key bytea NOT NULL,
    outer_key bytea NOT NULL
);
REVOKE ALL ON prodpatterns_private.context_key FROM PUBLIC
