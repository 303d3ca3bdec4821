-- 0008: a provider holds several security keys, each with its lifecycle
-- (a rotation's grace period, an expiry, its last use). The key of
-- providers.key_hash moves here; that column and key_hint stay, always
-- NULL and '' (a UNIQUE column cannot be dropped in SQLite).
CREATE TABLE provider_keys (
	id          TEXT    NOT NULL PRIMARY KEY,
	provider_id TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	hash        BLOB    NOT NULL UNIQUE,          -- SHA-256 of the key
	hint        TEXT    NOT NULL,                 -- its last four characters
	created     INTEGER NOT NULL,                 -- unix ms, as every time here
	expires     INTEGER,                          -- NULL: never
	replaced    INTEGER,                          -- when a rotation replaced it; NULL for a current key
	last_used   INTEGER                           -- the newest logged request it authenticated
) STRICT;

CREATE INDEX provider_keys_provider ON provider_keys (provider_id, created);

INSERT INTO provider_keys (id, provider_id, hash, hint, created)
	SELECT 'k' || lower(hex(randomblob(4))), id, key_hash, key_hint, updated FROM providers WHERE key_hash IS NOT NULL;

UPDATE providers SET key_hash = NULL, key_hint = '';
