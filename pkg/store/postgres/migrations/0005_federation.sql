-- 0005: workload identity federation. A provider may trust the JWTs of
-- one issuer for one audience (and subject), checked against the issuer's
-- JWK Set, fetched from a URL or kept here.
CREATE TABLE provider_federation (
	provider_id text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	issuer      text COLLATE "C" NOT NULL,
	audience    text NOT NULL,
	subject     text NOT NULL DEFAULT '',
	jwks_url    text NOT NULL DEFAULT '',
	jwks        bytea,                            -- a JWK Set given inline; NULL with jwks_url
	updated     timestamptz NOT NULL,
	CONSTRAINT provider_federation_pkey PRIMARY KEY (provider_id)
);

CREATE INDEX provider_federation_issuer ON provider_federation (issuer);
