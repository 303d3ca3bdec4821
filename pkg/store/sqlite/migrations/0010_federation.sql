-- 0010: workload identity federation. A provider may trust the JWTs of
-- one issuer for one audience (and subject), checked against the issuer's
-- JWK Set, fetched from a URL or kept here.
CREATE TABLE provider_federation (
	provider_id TEXT    NOT NULL PRIMARY KEY REFERENCES providers (id) ON DELETE CASCADE,
	issuer      TEXT    NOT NULL,
	audience    TEXT    NOT NULL,
	subject     TEXT    NOT NULL DEFAULT '',
	jwks_url    TEXT    NOT NULL DEFAULT '',
	jwks        BLOB,                             -- a JWK Set given inline; NULL with jwks_url
	updated     INTEGER NOT NULL
) STRICT;

CREATE INDEX provider_federation_issuer ON provider_federation (issuer);
