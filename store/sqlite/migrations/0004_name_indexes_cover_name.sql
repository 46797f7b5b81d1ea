-- PostgreSQL's indexes that order tokens by name hold lower(name) and gain
-- the name itself in this version. SQLite's (0001) are on name COLLATE NOCASE,
-- which holds the name, and already answer a page of ids alone: nothing to do
-- here but keep the engines' versions in step.
SELECT 1;
