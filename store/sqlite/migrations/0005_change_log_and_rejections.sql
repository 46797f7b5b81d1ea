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

-- API calls refused with a disabled or deleted token, counted per token and
-- minute by every serve process that refused them (added to, never
-- replaced), until one audit record per token and minute tells of them all.
-- pending is the part of count no audit record tells of yet.
CREATE TABLE token_rejections (
    token_id   TEXT NOT NULL,
    minute     DATETIME NOT NULL,
    status     TEXT NOT NULL,
    count      INTEGER NOT NULL,
    pending    INTEGER NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (token_id, minute)
);

CREATE INDEX token_rejections_pending ON token_rejections (minute) WHERE pending > 0;
CREATE INDEX token_rejections_by_minute ON token_rejections (minute);
