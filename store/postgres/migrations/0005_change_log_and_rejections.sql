-- The change log of the verify cache. Every change that can make a cached
-- token answer differently (disable, enable, delete, its name or modules) adds
-- a row in the transaction that makes the change, so that every replica drops
-- the token from its cache by applying the log in order of seq; a NOTIFY on
-- gatehouse_token_changes wakes them, and a poll catches what a lost
-- notification missed. The row is added while the transaction holds the
-- audit chain's lock (every such change writes an audit record first), so
-- rows commit in the order of their seq and a reader that has seen seq N has
-- seen everything before it.
CREATE TABLE token_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id   TEXT COLLATE "C" NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX token_changes_by_time ON token_changes (changed_at);

-- API calls refused with a disabled or deleted token, counted per token and
-- minute by every replica that refused them (added to, never replaced), until
-- one audit record per token and minute tells of them all. pending is the
-- part of count no audit record tells of yet.
CREATE TABLE token_rejections (
    token_id   TEXT COLLATE "C" NOT NULL,
    minute     TIMESTAMPTZ NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    count      BIGINT NOT NULL,
    pending    BIGINT NOT NULL,
    ip         TEXT COLLATE "C" NOT NULL DEFAULT '',
    user_agent TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (token_id, minute)
);

CREATE INDEX token_rejections_pending ON token_rejections (minute) WHERE pending > 0;
CREATE INDEX token_rejections_by_minute ON token_rejections (minute);
