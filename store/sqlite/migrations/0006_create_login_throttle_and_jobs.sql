-- What the serve processes on one database share beyond the data itself
-- (SPEC §7), so that nothing that must be shared is kept per process.

-- The login throttle: one row per key (email:… or ip:…) with its failures,
-- the last one's time and when the next attempt may be made (NULL: never made
-- to wait). The arithmetic is the store package's; rows whose last failure is
-- older than an hour count for nothing and are deleted by a periodic job.
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at DATETIME NOT NULL,
    wait_until      DATETIME
) WITHOUT ROWID;

CREATE INDEX login_throttle_by_last_failure ON login_throttle (last_failure_at);

-- Background jobs run once per cluster: a process runs a job only after
-- claiming it, by moving its last_run_at forward from at least an interval
-- ago.
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    last_run_at DATETIME NOT NULL
) WITHOUT ROWID;
