-- 0008: webhooks, the change feed's subscribers, with their delivery state
-- (the cursor delivered through, the failures since the last success),
-- and the lease that makes one replica the deliverer. secret is the key
-- the deliveries are signed with: the server signs with it, so it is kept
-- as it is. types is a JSON array of event types, NULL for all;
-- provider_id NULL for every provider.
CREATE TABLE webhooks (
	id            text COLLATE "C" NOT NULL,
	url           text NOT NULL,
	provider_id   text COLLATE "C" REFERENCES providers (id) ON DELETE CASCADE,
	types         jsonb,
	format        text NOT NULL,
	secret        text NOT NULL,
	created       timestamptz NOT NULL,
	cursor        bigint NOT NULL,
	state         text NOT NULL,
	attempts      integer NOT NULL DEFAULT 0,
	next_attempt  timestamptz,
	failing_since timestamptz,
	last_error    text NOT NULL DEFAULT '',
	delivered     bigint NOT NULL DEFAULT 0,
	rev           bigint NOT NULL DEFAULT 0,
	CONSTRAINT webhooks_pkey PRIMARY KEY (id)
);

CREATE TABLE webhook_lease (
	one    boolean PRIMARY KEY DEFAULT true CHECK (one),
	holder text NOT NULL DEFAULT '',
	until  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO webhook_lease DEFAULT VALUES;
