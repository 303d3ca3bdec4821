-- 0006: a one-row table that readiness probes write to once a write has
-- failed for want of the disk (a full disk, an I/O error), to tell when
-- writes work again (DB.Ping).
CREATE TABLE probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
) STRICT;
