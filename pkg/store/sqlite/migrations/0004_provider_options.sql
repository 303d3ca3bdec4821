-- 0004: per-provider dialect and rate limit.
ALTER TABLE providers ADD COLUMN strict INTEGER NOT NULL DEFAULT 0;   -- refuse Entra-only input
ALTER TABLE providers ADD COLUMN rate_limit REAL NOT NULL DEFAULT 0;  -- SCIM requests per second; 0: no limit
