-- 0004: OAuth 2.0 client credentials. A provider's client (its client
-- ID), its client secrets (hashed, expiring) and the access tokens the
-- token endpoint issued (hashed); revoking a secret deletes the tokens it
-- got.
CREATE TABLE oauth_clients (
	provider_id text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	client_id   text COLLATE "C" NOT NULL,
	created     timestamptz NOT NULL,
	CONSTRAINT oauth_clients_pkey PRIMARY KEY (provider_id),
	CONSTRAINT oauth_clients_client_id_unique UNIQUE (client_id)
);

CREATE TABLE oauth_secrets (
	id          text COLLATE "C" NOT NULL,
	provider_id text COLLATE "C" NOT NULL REFERENCES oauth_clients (provider_id) ON DELETE CASCADE,
	hash        bytea NOT NULL,                   -- SHA-256 of the secret
	hint        text NOT NULL,                    -- its last four characters
	created     timestamptz NOT NULL,
	expires     timestamptz NOT NULL,
	last_used   timestamptz,                      -- when it last got a token
	CONSTRAINT oauth_secrets_pkey PRIMARY KEY (id),
	CONSTRAINT oauth_secrets_hash_unique UNIQUE (hash)
);

CREATE INDEX oauth_secrets_provider ON oauth_secrets (provider_id, created);

CREATE TABLE oauth_tokens (
	hash        bytea NOT NULL,                   -- SHA-256 of the access token
	provider_id text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	secret_id   text COLLATE "C" NOT NULL REFERENCES oauth_secrets (id) ON DELETE CASCADE,
	created     timestamptz NOT NULL,
	expires     timestamptz NOT NULL,
	CONSTRAINT oauth_tokens_pkey PRIMARY KEY (hash)
);

CREATE INDEX oauth_tokens_provider ON oauth_tokens (provider_id, expires);
CREATE INDEX oauth_tokens_secret ON oauth_tokens (secret_id);
