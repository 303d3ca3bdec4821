-- 0011: a revision on the rows admin operations read, change and write
-- back whole (a provider with its keys, an OAuth client with its
-- secrets), so that two operations at once cannot undo each other: the
-- second's write finds the revision moved and is tried again on what the
-- first wrote.
ALTER TABLE providers ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
