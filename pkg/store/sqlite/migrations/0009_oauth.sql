-- 0009: OAuth 2.0 client credentials. A provider's client (its client
-- ID), its client secrets (hashed, expiring) and the access tokens the
-- token endpoint issued (hashed); revoking a secret deletes the tokens it
-- got.
CREATE TABLE oauth_clients (
	provider_id TEXT    NOT NULL PRIMARY KEY REFERENCES providers (id) ON DELETE CASCADE,
	client_id   TEXT    NOT NULL UNIQUE,
	created     INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_secrets (
	id          TEXT    NOT NULL PRIMARY KEY,
	provider_id TEXT    NOT NULL REFERENCES oauth_clients (provider_id) ON DELETE CASCADE,
	hash        BLOB    NOT NULL UNIQUE,          -- SHA-256 of the secret
	hint        TEXT    NOT NULL,                 -- its last four characters
	created     INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	last_used   INTEGER                           -- when it last got a token
) STRICT;

CREATE INDEX oauth_secrets_provider ON oauth_secrets (provider_id, created);

CREATE TABLE oauth_tokens (
	hash        BLOB    NOT NULL PRIMARY KEY,     -- SHA-256 of the access token
	provider_id TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	secret_id   TEXT    NOT NULL REFERENCES oauth_secrets (id) ON DELETE CASCADE,
	created     INTEGER NOT NULL,
	expires     INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_tokens_provider ON oauth_tokens (provider_id, expires);
CREATE INDEX oauth_tokens_secret ON oauth_tokens (secret_id);
