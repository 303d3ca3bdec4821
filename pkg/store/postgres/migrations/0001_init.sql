-- 0001: the whole schema, with the meaning of the SQLite store's
-- migrations 0001–0004 (providers, users, groups, memberships, custom
-- fields, mappings and the provisioning log).
--
-- Conventions: times are timestamptz, written truncated to the millisecond
-- (as the SQLite store keeps them); *_key columns hold the Go
-- strings.ToLower of the column they shadow and serve the case-insensitive
-- lookups and uniqueness rules, so that folding never depends on the
-- server's locale; text columns compared or ordered by the store use
-- COLLATE "C" (byte order, as SQLite's BINARY), which also lets their
-- btree indexes serve prefix ranges. resource holds the SCIM document minus
-- the attributes kept as columns or rows; search is the same document with
-- every string lower-cased in Go, which the filters and sorts on
-- case-insensitive attributes read. seq is the creation order and what
-- memberships reference. Constraint names are what errors.go maps to
-- messages.

CREATE TABLE providers (
	id           text COLLATE "C" NOT NULL,
	name         text NOT NULL,
	name_key     text COLLATE "C" NOT NULL,
	enabled      boolean NOT NULL DEFAULT false,
	key_hash     bytea,                           -- SHA-256 of the key; NULL until one is generated
	key_hint     text NOT NULL DEFAULT '',
	strict       boolean NOT NULL DEFAULT false,  -- refuse Entra-only input
	rate_limit   double precision NOT NULL DEFAULT 0,
	synced_users bigint NOT NULL DEFAULT 0,       -- count of the provider's users rows, kept by every user write
	last_sync_at timestamptz,                     -- NULL until the first successful SCIM request
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL,
	CONSTRAINT providers_pkey PRIMARY KEY (id),
	CONSTRAINT providers_name_unique UNIQUE (name_key),
	CONSTRAINT providers_key_hash_unique UNIQUE (key_hash)
);

CREATE TABLE users (
	seq              bigint GENERATED ALWAYS AS IDENTITY,
	provider_id      text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	id               text COLLATE "C" NOT NULL,
	id_key           text COLLATE "C" NOT NULL,   -- lower-cased id: groups.value and members.value are caseExact false
	user_name        text NOT NULL,
	user_name_key    text COLLATE "C" NOT NULL,
	external_id      text COLLATE "C" NOT NULL DEFAULT '',
	display_name     text NOT NULL DEFAULT '',
	display_name_key text COLLATE "C" NOT NULL DEFAULT '',
	active           boolean NOT NULL,
	resource         jsonb NOT NULL DEFAULT '{}',
	search           jsonb NOT NULL DEFAULT '{}',
	-- The directory-user fields the provider's mappings derive (fields),
	-- the same with lower-cased names and values as text, each name
	-- mapping to a list (fields_key, what FindDirectoryUsers matches), and
	-- the lower-cased Email field, NULL when there is none.
	fields           jsonb NOT NULL DEFAULT '{}',
	fields_key       jsonb NOT NULL DEFAULT '{}',
	email_key        text COLLATE "C",
	created          timestamptz NOT NULL,
	last_modified    timestamptz NOT NULL,
	version          bigint NOT NULL,
	CONSTRAINT users_pkey PRIMARY KEY (seq),
	CONSTRAINT users_id_unique UNIQUE (provider_id, id),
	CONSTRAINT users_user_name_unique UNIQUE (provider_id, user_name_key)
);

CREATE INDEX users_provider_seq ON users (provider_id, seq);
CREATE INDEX users_external_id  ON users (provider_id, external_id);
CREATE INDEX users_display_name ON users (provider_id, display_name_key);
-- A directory user is also found by its SCIM id alone, whatever its
-- provider, or by its email.
CREATE INDEX users_id ON users (id);
CREATE INDEX users_email_key ON users (email_key) WHERE email_key IS NOT NULL;

CREATE TABLE groups (
	seq              bigint GENERATED ALWAYS AS IDENTITY,
	provider_id      text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	id               text COLLATE "C" NOT NULL,
	id_key           text COLLATE "C" NOT NULL,
	display_name     text NOT NULL,
	display_name_key text COLLATE "C" NOT NULL,
	external_id      text COLLATE "C" NOT NULL DEFAULT '',
	resource         jsonb NOT NULL DEFAULT '{}',
	created          timestamptz NOT NULL,
	last_modified    timestamptz NOT NULL,
	version          bigint NOT NULL,
	CONSTRAINT groups_pkey PRIMARY KEY (seq),
	CONSTRAINT groups_id_unique UNIQUE (provider_id, id),
	CONSTRAINT groups_display_name_unique UNIQUE (provider_id, display_name_key)
);

CREATE INDEX groups_provider_seq ON groups (provider_id, seq);
CREATE INDEX groups_external_id  ON groups (provider_id, external_id);
-- FindDirectoryUsers' InGroup names a group across providers.
CREATE INDEX groups_display_name ON groups (display_name_key);

-- A member is always a user of the group's provider (the store checks it
-- before writing); seq keeps the members in the order they were added.
CREATE TABLE group_members (
	seq         bigint GENERATED ALWAYS AS IDENTITY,
	group_seq   bigint NOT NULL REFERENCES groups (seq) ON DELETE CASCADE,
	user_seq    bigint NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
	display     text NOT NULL DEFAULT '',
	display_key text COLLATE "C" NOT NULL DEFAULT '',
	CONSTRAINT group_members_pkey PRIMARY KEY (seq),
	CONSTRAINT group_members_unique UNIQUE (group_seq, user_seq)
);

CREATE INDEX group_members_user ON group_members (user_seq);

CREATE TABLE custom_fields (
	name        text NOT NULL,
	name_key    text COLLATE "C" NOT NULL,
	description text NOT NULL DEFAULT '',
	created     timestamptz NOT NULL,
	CONSTRAINT custom_fields_name_unique UNIQUE (name_key)
);

-- A provider's optional mappings, in the order they were given. field is
-- a built-in or a custom field; field_key (lower-cased) finds the mappings
-- that use a custom field before it is removed.
CREATE TABLE mappings (
	provider_id text COLLATE "C" NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	position    integer NOT NULL,
	scim_path   text NOT NULL,
	field       text NOT NULL,
	field_key   text COLLATE "C" NOT NULL,
	CONSTRAINT mappings_pkey PRIMARY KEY (provider_id, position)
);

CREATE INDEX mappings_field ON mappings (field_key);

-- The provisioning log, one row per SCIM request. provider_id is NULL for
-- requests whose key matched no provider.
CREATE TABLE request_log (
	id          bigint GENERATED ALWAYS AS IDENTITY,
	at          timestamptz NOT NULL,
	provider_id text COLLATE "C" REFERENCES providers (id) ON DELETE CASCADE,
	request_id  text NOT NULL DEFAULT '',
	method      text NOT NULL,
	path        text NOT NULL,
	resource_id text NOT NULL DEFAULT '',
	status      integer NOT NULL,
	latency_us  bigint NOT NULL,
	error       text NOT NULL DEFAULT '',
	CONSTRAINT request_log_pkey PRIMARY KEY (id)
);

CREATE INDEX request_log_at ON request_log (at);
CREATE INDEX request_log_provider ON request_log (provider_id, id);
