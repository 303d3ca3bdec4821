-- 0007: the change feed. Every change of a directory user or group is an
-- event row, appended by the triggers below in the transaction of the
-- write itself, whatever the path (a SCIM request, Bulk, a mapping
-- change, a provider removed): a committed change always has its event,
-- and a rolled-back one never does.
--
-- seq, the feed's cursor, is given at commit, in commit order: replicas
-- commit concurrently, so a sequence taken during the transaction would
-- let a reader past N miss an N-1 that commits later. The events of a
-- transaction are written with no seq; a deferred trigger, which runs at
-- COMMIT, takes the one row of event_clock (its lock is held until the
-- commit is visible) and numbers them in the order they were written. A
-- transaction that numbers after another therefore becomes visible after
-- it: a reader that sees seq N sees every seq below N that committed.
--
-- user_id/user_name name the user of user.* events, group_id/group_name
-- the group of group.* events (after the change; before it for a
-- deletion). before and after are the user's directory-user fields around
-- the change, or the group's names around a rename.
--
-- Memberships: each statement that adds members to a group (or removes
-- them) appends one row, group.members_added (group.members_removed),
-- whose members is the array of the members' [id, userName] in order, and
-- which stands for one event per member: the row takes span cursors, its
-- seq being the last (a row per member would cost as much as the
-- memberships themselves). A user's or group's deletion says nothing of
-- the memberships it ends (they are implied): the memberships' trigger
-- finds no user or no group any more and appends nothing.
CREATE TABLE events (
	id          bigint GENERATED ALWAYS AS IDENTITY,
	seq         bigint,
	xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
	time        timestamptz NOT NULL DEFAULT clock_timestamp(),
	type        text NOT NULL,
	provider_id text COLLATE "C" NOT NULL,
	user_id     text COLLATE "C" NOT NULL DEFAULT '',
	user_name   text NOT NULL DEFAULT '',
	group_id    text COLLATE "C" NOT NULL DEFAULT '',
	group_name  text NOT NULL DEFAULT '',
	before      jsonb,
	after       jsonb,
	span        bigint NOT NULL DEFAULT 1,
	members     jsonb,
	CONSTRAINT events_pkey PRIMARY KEY (id),
	CONSTRAINT events_seq_unique UNIQUE (seq)
);

-- The events a transaction has written and not numbered yet.
CREATE INDEX events_unnumbered ON events (xid) WHERE seq IS NULL;
-- A user's history (users history), memberships included.
CREATE INDEX events_user ON events (user_id, seq) WHERE user_id <> '';
-- The renames and deletions of groups, for the history of their members
-- (a member's Groups field changes with them).
CREATE INDEX events_group_changes ON events (group_id, seq) WHERE type IN ('group.renamed', 'group.deleted');
-- The membership rows of a group, for the history of a member.
CREATE INDEX events_group_members ON events (group_id, seq) WHERE type IN ('group.members_added', 'group.members_removed');

-- seq is the last number given; pruned the highest seq pruning removed
-- (a cursor below it has lost events: its consumer must resync).
CREATE TABLE event_clock (
	one    boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq    bigint NOT NULL DEFAULT 0,
	pruned bigint NOT NULL DEFAULT 0
);
INSERT INTO event_clock DEFAULT VALUES;

CREATE FUNCTION events_number() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	n    bigint;
	last bigint;
BEGIN
	-- The first of the transaction's events to get here numbers them all
	-- and says so in a setting of the transaction; the others return at
	-- once (they run while the clock is held: a provider removed is a
	-- hundred thousand of them).
	IF current_setting('kacescim.events_numbered', true) = pg_current_xact_id()::text THEN
		RETURN NULL;
	END IF;
	PERFORM set_config('kacescim.events_numbered', pg_current_xact_id()::text, true);
	SELECT sum(span) INTO n FROM events WHERE xid = pg_current_xact_id() AND seq IS NULL;
	UPDATE event_clock SET seq = seq + n RETURNING seq INTO last;
	UPDATE events e SET seq = last - n + p.upto
	FROM (SELECT id, sum(span) OVER (ORDER BY id) AS upto FROM events
		WHERE xid = pg_current_xact_id() AND seq IS NULL) p
	WHERE e.id = p.id;
	RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER events_number AFTER INSERT ON events
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION events_number();

CREATE FUNCTION users_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO events (type, provider_id, user_id, user_name, after)
		VALUES ('user.created', NEW.provider_id, NEW.id, NEW.user_name, NEW.fields);
	ELSIF TG_OP = 'UPDATE' THEN
		IF OLD.fields IS DISTINCT FROM NEW.fields OR OLD.active IS DISTINCT FROM NEW.active
			OR OLD.user_name IS DISTINCT FROM NEW.user_name THEN
			INSERT INTO events (type, provider_id, user_id, user_name, before, after)
			VALUES (CASE WHEN OLD.active AND NOT NEW.active THEN 'user.deactivated'
			             WHEN NEW.active AND NOT OLD.active THEN 'user.activated'
			             ELSE 'user.updated' END,
				NEW.provider_id, NEW.id, NEW.user_name, OLD.fields, NEW.fields);
		END IF;
	ELSE
		INSERT INTO events (type, provider_id, user_id, user_name, before)
		VALUES ('user.deleted', OLD.provider_id, OLD.id, OLD.user_name, OLD.fields);
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER users_events AFTER INSERT OR UPDATE OR DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION users_events();

CREATE FUNCTION groups_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO events (type, provider_id, group_id, group_name)
		VALUES ('group.created', NEW.provider_id, NEW.id, NEW.display_name);
	ELSIF TG_OP = 'UPDATE' THEN
		IF OLD.display_name IS DISTINCT FROM NEW.display_name THEN
			INSERT INTO events (type, provider_id, group_id, group_name, before, after)
			VALUES ('group.renamed', NEW.provider_id, NEW.id, NEW.display_name,
				to_jsonb(OLD.display_name), to_jsonb(NEW.display_name));
		END IF;
	ELSE
		INSERT INTO events (type, provider_id, group_id, group_name)
		VALUES ('group.deleted', OLD.provider_id, OLD.id, OLD.display_name);
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER groups_events AFTER INSERT OR UPDATE OR DELETE ON groups
	FOR EACH ROW EXECUTE FUNCTION groups_events();

CREATE FUNCTION group_members_added_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO events (type, provider_id, group_id, group_name, span, members)
	SELECT 'group.members_added', g.provider_id, g.id, g.display_name, count(*),
		jsonb_agg(jsonb_build_array(u.id, u.user_name) ORDER BY a.seq)
	FROM added a JOIN groups g ON g.seq = a.group_seq JOIN users u ON u.seq = a.user_seq
	GROUP BY g.seq, g.provider_id, g.id, g.display_name;
	RETURN NULL;
END $$;

CREATE TRIGGER group_members_added AFTER INSERT ON group_members
	REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION group_members_added_events();

CREATE FUNCTION group_members_removed_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO events (type, provider_id, group_id, group_name, span, members)
	SELECT 'group.members_removed', g.provider_id, g.id, g.display_name, count(*),
		jsonb_agg(jsonb_build_array(u.id, u.user_name) ORDER BY r.seq)
	FROM removed r JOIN groups g ON g.seq = r.group_seq JOIN users u ON u.seq = r.user_seq
	GROUP BY g.seq, g.provider_id, g.id, g.display_name;
	RETURN NULL;
END $$;

CREATE TRIGGER group_members_removed AFTER DELETE ON group_members
	REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION group_members_removed_events();
