-- 0002: directory-user fields, custom fields and attribute mappings.
--
-- users.fields is the JSON object of the directory-user fields the
-- provider's mappings derive from the resource (the caller derives them;
-- the store writes them with the resource). email_key is the Go
-- strings.ToLower of its "Email" field, NULL when it has none: the
-- case-insensitive lookup of a directory user by email, across providers.
-- Rows written before this migration have no fields until they are
-- re-derived (their next write, or a ReplaceMappings of their provider).

ALTER TABLE users ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN email_key TEXT;

CREATE INDEX users_email_key ON users (email_key) WHERE email_key IS NOT NULL;
-- A directory user is also found by its SCIM id alone, whatever its
-- provider (UNIQUE (provider_id, id) cannot serve that).
CREATE INDEX users_id ON users (id);

CREATE TABLE custom_fields (
	name        TEXT    NOT NULL,
	name_key    TEXT    NOT NULL UNIQUE,
	description TEXT    NOT NULL DEFAULT '',
	created     INTEGER NOT NULL
) STRICT;

-- A provider's optional mappings, in the order they were given. field is
-- a built-in or a custom field; field_key (lower-cased) finds the mappings
-- that use a custom field before it is removed.
CREATE TABLE mappings (
	provider_id TEXT    NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	scim_path   TEXT    NOT NULL,
	field       TEXT    NOT NULL,
	field_key   TEXT    NOT NULL,
	PRIMARY KEY (provider_id, position)
) STRICT;

CREATE INDEX mappings_field ON mappings (field_key);
