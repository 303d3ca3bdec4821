-- 0005: users_gen counts the deletions of the provider's users. A page of
-- the provider's users in creation order starts after a known seq while
-- users_gen is unchanged (pages.go): creates append (a new seq is the
-- highest, and one writer commits them in order), so only a deletion
-- moves the users after it to lower offsets.
ALTER TABLE providers ADD COLUMN users_gen INTEGER NOT NULL DEFAULT 0;
