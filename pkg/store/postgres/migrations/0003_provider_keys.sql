-- 0003: a provider holds several security keys, each with its lifecycle
-- (a rotation's grace period, an expiry, its last use). The key of
-- providers.key_hash moves here.
CREATE TABLE provider_keys (
	id          text COLLATE "C" NOT NULL,
	provider_id text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	hash        bytea NOT NULL,                   -- SHA-256 of the key
	hint        text NOT NULL,                    -- its last four characters
	created     timestamptz NOT NULL,
	expires     timestamptz,                      -- NULL: never
	replaced    timestamptz,                      -- when a rotation replaced it; NULL for a current key
	last_used   timestamptz,                      -- the newest logged request it authenticated
	CONSTRAINT provider_keys_pkey PRIMARY KEY (id),
	CONSTRAINT provider_keys_hash_unique UNIQUE (hash)
);

CREATE INDEX provider_keys_provider ON provider_keys (provider_id, created);

INSERT INTO provider_keys (id, provider_id, hash, hint, created)
	SELECT 'k' || substr(md5(random()::text || id), 1, 8), id, key_hash, key_hint, updated FROM providers WHERE key_hash IS NOT NULL;

ALTER TABLE providers DROP COLUMN key_hash, DROP COLUMN key_hint;
