-- 0013: webhooks, the change feed's subscribers, with their delivery state
-- (the cursor delivered through, the failures since the last success),
-- and the lease that makes one server the deliverer. secret is the key
-- the deliveries are signed with: the server signs with it, so it is kept
-- as it is (the database file is its owner's only). types is a JSON array
-- of event types, NULL for all; provider_id NULL for every provider.
CREATE TABLE webhooks (
	id            TEXT    NOT NULL PRIMARY KEY,
	url           TEXT    NOT NULL,
	provider_id   TEXT    REFERENCES providers (id) ON DELETE CASCADE,
	types         TEXT,
	format        TEXT    NOT NULL,
	secret        TEXT    NOT NULL,
	created       INTEGER NOT NULL,
	cursor        INTEGER NOT NULL,
	state         TEXT    NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_attempt  INTEGER NOT NULL DEFAULT 0,
	failing_since INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT    NOT NULL DEFAULT '',
	delivered     INTEGER NOT NULL DEFAULT 0,
	rev           INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE webhook_lease (
	one    INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
	holder TEXT    NOT NULL DEFAULT '',
	until  INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO webhook_lease (one) VALUES (1);
