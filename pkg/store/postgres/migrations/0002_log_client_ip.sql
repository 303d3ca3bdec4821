-- 0002: the client IP of each provisioning-log entry ('' for the entries
-- written before it was kept).
ALTER TABLE request_log ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
