-- 0003: the provisioning log, one row per SCIM request.
--
-- provider_id is NULL for requests whose key matched no provider; entries
-- outlive neither the provider nor the retention the server prunes to.
CREATE TABLE request_log (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,             -- unix ms
	provider_id TEXT REFERENCES providers (id) ON DELETE CASCADE,
	request_id  TEXT    NOT NULL DEFAULT '',
	method      TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	resource_id TEXT    NOT NULL DEFAULT '',
	status      INTEGER NOT NULL,
	latency_us  INTEGER NOT NULL,
	error       TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX request_log_at ON request_log (at);
CREATE INDEX request_log_provider ON request_log (provider_id, id);
