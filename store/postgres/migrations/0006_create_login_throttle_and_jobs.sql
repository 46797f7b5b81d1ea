-- What the serve processes on one database share beyond the data itself
-- (SPEC §7), so that nothing that must be shared is kept per process.

-- The login throttle: one row per key (email:… or ip:…) with its failures,
-- the last one's time and when the next attempt may be made (NULL: never made
-- to wait). The arithmetic is the store package's; rows whose last failure is
-- older than an hour count for nothing and are deleted by a periodic job.
-- An attempt locks its keys' rows in key order (SELECT … FOR UPDATE), so
-- replicas checking the same keys at once take turns.
CREATE TABLE login_throttle (
    key             TEXT COLLATE "C" PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    wait_until      TIMESTAMPTZ
);

CREATE INDEX login_throttle_by_last_failure ON login_throttle (last_failure_at);

-- Background jobs run once per cluster: a process runs a job only after
-- claiming it, by moving its last_run_at forward from at least an interval
-- ago (a conditional UPDATE: of two replicas claiming at once, the second
-- waits for the first's row lock and then finds the condition false).
CREATE TABLE jobs (
    name        TEXT COLLATE "C" PRIMARY KEY,
    last_run_at TIMESTAMPTZ NOT NULL
);
