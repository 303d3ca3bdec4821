-- 0012: the change feed. Every change of a directory user or group is an
-- event row, appended by the triggers below in the transaction of the
-- write itself, whatever the path (a SCIM request, Bulk, a mapping
-- change, a provider removed): a committed change always has its event
-- and a rolled-back one (a refused request's savepoint) never does. seq is
-- the feed's cursor; one writer commits at a time, so seq order is commit
-- order, and AUTOINCREMENT never reuses a pruned value.
--
-- user_id/user_name name the user of user.* events, group_id/group_name
-- the group of group.* events (after the change; before it for a
-- deletion). before and after are the user's directory-user fields (JSON)
-- around the change, or the group's names around a rename. time is the
-- database's clock, unix milliseconds.
--
-- Memberships: the write that adds members to a group (or removes them)
-- appends one row, group.members_added (group.members_removed), whose
-- members is the JSON array of the members' [id, userName] in order, and
-- which stands for one event per member: the row takes span cursors, its
-- seq being the last (the store writes it, not a trigger: SQLite has no
-- trigger per statement, and a row per member would cost as much as the
-- memberships themselves). A user's or group's deletion says nothing of
-- the memberships it ends: they are implied.
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	time        INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	provider_id TEXT    NOT NULL,
	user_id     TEXT    NOT NULL DEFAULT '',
	user_name   TEXT    NOT NULL DEFAULT '',
	group_id    TEXT    NOT NULL DEFAULT '',
	group_name  TEXT    NOT NULL DEFAULT '',
	before      TEXT,
	after       TEXT,
	span        INTEGER NOT NULL DEFAULT 1,
	members     TEXT
) STRICT;

-- A user's history (users history), memberships included.
CREATE INDEX events_user ON events (user_id, seq) WHERE user_id != '';
-- The renames and deletions of groups, for the history of their members
-- (a member's Groups field changes with them).
CREATE INDEX events_group_changes ON events (group_id, seq) WHERE type IN ('group.renamed', 'group.deleted');
-- The membership rows of a group, for the history of a member.
CREATE INDEX events_group_members ON events (group_id, seq) WHERE type IN ('group.members_added', 'group.members_removed');

-- pruned is the highest seq pruning removed: a cursor below it has lost
-- events, and its consumer must resync.
CREATE TABLE events_pruned (
	one    INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
	pruned INTEGER NOT NULL
) STRICT;
INSERT INTO events_pruned VALUES (1, 0);

CREATE TRIGGER users_created AFTER INSERT ON users BEGIN
	INSERT INTO events (time, type, provider_id, user_id, user_name, after)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER), 'user.created', NEW.provider_id, NEW.id, NEW.user_name, NEW.fields);
END;

CREATE TRIGGER users_changed AFTER UPDATE ON users
WHEN OLD.fields IS NOT NEW.fields OR OLD.active IS NOT NEW.active OR OLD.user_name IS NOT NEW.user_name BEGIN
	INSERT INTO events (time, type, provider_id, user_id, user_name, before, after)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER),
		CASE WHEN OLD.active AND NOT NEW.active THEN 'user.deactivated'
		     WHEN NEW.active AND NOT OLD.active THEN 'user.activated'
		     ELSE 'user.updated' END,
		NEW.provider_id, NEW.id, NEW.user_name, OLD.fields, NEW.fields);
END;

CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
	INSERT INTO events (time, type, provider_id, user_id, user_name, before)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER), 'user.deleted', OLD.provider_id, OLD.id, OLD.user_name, OLD.fields);
END;

CREATE TRIGGER groups_created AFTER INSERT ON groups BEGIN
	INSERT INTO events (time, type, provider_id, group_id, group_name)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER), 'group.created', NEW.provider_id, NEW.id, NEW.display_name);
END;

CREATE TRIGGER groups_renamed AFTER UPDATE ON groups WHEN OLD.display_name IS NOT NEW.display_name BEGIN
	INSERT INTO events (time, type, provider_id, group_id, group_name, before, after)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER), 'group.renamed', NEW.provider_id, NEW.id, NEW.display_name,
		json_quote(OLD.display_name), json_quote(NEW.display_name));
END;

CREATE TRIGGER groups_deleted AFTER DELETE ON groups BEGIN
	INSERT INTO events (time, type, provider_id, group_id, group_name)
	VALUES (CAST(unixepoch('subsec') * 1000 AS INTEGER), 'group.deleted', OLD.provider_id, OLD.id, OLD.display_name);
END;
