-- 0001: providers, their users and groups, and group memberships.
--
-- Conventions: times are unix milliseconds (UTC); *_key columns hold the
-- Go strings.ToLower of the column they shadow and serve the
-- case-insensitive lookups and uniqueness rules; resource holds the SCIM
-- document (JSON) minus the attributes kept as columns or rows; seq is the
-- creation order (AUTOINCREMENT never reuses a value) and what memberships
-- reference.

CREATE TABLE providers (
	id           TEXT    NOT NULL PRIMARY KEY,
	name         TEXT    NOT NULL,
	name_key     TEXT    NOT NULL UNIQUE,
	enabled      INTEGER NOT NULL DEFAULT 0,
	key_hash     BLOB    UNIQUE,                -- SHA-256 of the key; NULL until one is generated
	key_hint     TEXT    NOT NULL DEFAULT '',
	synced_users INTEGER NOT NULL DEFAULT 0,    -- count of the provider's users rows, kept by every user write
	last_sync_at INTEGER,                       -- NULL until the first SCIM request
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	seq              INTEGER PRIMARY KEY AUTOINCREMENT,
	provider_id      TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	id               TEXT    NOT NULL,
	user_name        TEXT    NOT NULL,
	user_name_key    TEXT    NOT NULL,
	external_id      TEXT    NOT NULL DEFAULT '',
	display_name     TEXT    NOT NULL DEFAULT '',
	display_name_key TEXT    NOT NULL DEFAULT '',
	active           INTEGER NOT NULL,
	resource         TEXT    NOT NULL DEFAULT '{}',
	created          INTEGER NOT NULL,
	last_modified    INTEGER NOT NULL,
	version          INTEGER NOT NULL,
	UNIQUE (provider_id, id),
	UNIQUE (provider_id, user_name_key)
) STRICT;

CREATE INDEX users_provider_seq ON users (provider_id, seq);
CREATE INDEX users_external_id  ON users (provider_id, external_id);
CREATE INDEX users_display_name ON users (provider_id, display_name_key);

CREATE TABLE groups (
	seq              INTEGER PRIMARY KEY AUTOINCREMENT,
	provider_id      TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	id               TEXT    NOT NULL,
	display_name     TEXT    NOT NULL,
	display_name_key TEXT    NOT NULL,
	external_id      TEXT    NOT NULL DEFAULT '',
	resource         TEXT    NOT NULL DEFAULT '{}',
	created          INTEGER NOT NULL,
	last_modified    INTEGER NOT NULL,
	version          INTEGER NOT NULL,
	UNIQUE (provider_id, id),
	UNIQUE (provider_id, display_name_key)
) STRICT;

CREATE INDEX groups_provider_seq ON groups (provider_id, seq);
CREATE INDEX groups_external_id  ON groups (provider_id, external_id);

-- A member is always a user of the group's provider (the store checks it
-- before writing); seq keeps the members in the order they were added.
CREATE TABLE group_members (
	seq       INTEGER PRIMARY KEY,
	group_seq INTEGER NOT NULL REFERENCES groups (seq) ON DELETE CASCADE,
	user_seq  INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
	display   TEXT    NOT NULL DEFAULT '',
	UNIQUE (group_seq, user_seq)
) STRICT;

CREATE INDEX group_members_user ON group_members (user_seq);
