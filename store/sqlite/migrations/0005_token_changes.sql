-- The change log of the verify cache. Every change that can make a cached
-- token answer differently (disable, enable, delete, its name or modules) adds
-- a row in the transaction that makes the change, so that every serve
-- process drops the token from its cache by applying the log in order of seq.
-- On SQLite one serve process owns the database and drops the token itself;
-- the log also carries changes that the command line makes while it runs.
CREATE TABLE token_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id   TEXT NOT NULL,
    changed_at DATETIME NOT NULL
);

CREATE INDEX token_changes_by_time ON token_changes (changed_at);
