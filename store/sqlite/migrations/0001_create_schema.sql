-- The whole schema of SPEC §2. Times are UTC, written by the driver in the
-- sqlite text format; audit timestamps are milliseconds since the epoch.

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL CHECK (type IN ('Client', 'Vendor', 'Operations')),
    created_at DATETIME NOT NULL
);

-- The module catalogue ships with the product. Each module owns one bit, so
-- a token's granted modules also fit in one integer that the list indexes
-- carry (api_tokens.module_bits) and the module filter reads without a join.
CREATE TABLE modules (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    position    INTEGER NOT NULL,
    bit         INTEGER NOT NULL UNIQUE
);

INSERT INTO modules (id, name, description, position, bit) VALUES
    ('MOD-1756', 'Access management', 'Manage the access to your account', 1, 1),
    ('MOD-9042', 'Account management', 'Manage the licensees and other account objects', 2, 2),
    ('MOD-0478', 'Marketplace', 'Buy and manage subscription based licenses', 3, 4),
    ('MOD-2210', 'Billing', 'View invoices, statements and journals', 4, 8),
    ('MOD-3385', 'Procurement', 'Place and track orders and requests', 5, 16),
    ('MOD-4617', 'Helpdesk', 'Open and follow support cases', 6, 32),
    ('MOD-5823', 'Notifications', 'Configure and receive platform notifications', 7, 64),
    ('MOD-6094', 'Catalog management', 'Publish and maintain products and price lists', 8, 128);

CREATE TABLE account_modules (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    module_id  TEXT NOT NULL REFERENCES modules (id),
    PRIMARY KEY (account_id, module_id)
) WITHOUT ROWID;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('Administrator', 'Operator', 'Viewer')),
    password_hash TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);

CREATE INDEX users_account ON users (account_id);

-- Server-side sessions. The cookie holds an opaque random id; only its
-- SHA-256 is stored, so a copy of the database does not yield live cookies.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    data         TEXT NOT NULL DEFAULT '{}',
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

-- rid is an explicit INTEGER PRIMARY KEY so that VACUUM keeps it stable: the
-- search index below refers to rows by it.
CREATE TABLE api_tokens (
    rid               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('Active', 'Disabled', 'Deleted')),
    secret_hash       BLOB NOT NULL UNIQUE,
    secret_sealed     BLOB NOT NULL,
    logo_type         TEXT,
    module_bits       INTEGER NOT NULL DEFAULT 0, -- the bits of the rows in api_token_modules
    created_at        DATETIME NOT NULL,
    created_by_id     TEXT NOT NULL,
    created_by_name   TEXT NOT NULL,
    updated_at        DATETIME NOT NULL,
    updated_by_id     TEXT NOT NULL,
    updated_by_name   TEXT NOT NULL,
    last_access_at    DATETIME,
    last_access_ip    TEXT,
    last_access_agent TEXT,
    disabled_at       DATETIME,
    disabled_by_id    TEXT,
    disabled_by_name  TEXT,
    disabled_reason   TEXT,
    deleted_at        DATETIME,
    deleted_by_id     TEXT,
    deleted_by_name   TEXT,
    version           INTEGER NOT NULL DEFAULT 1
);

-- One index per list order over the live (not deleted) tokens. Each holds the
-- columns the list filters on, so a page's ids are found from the index alone
-- and only the rows shown are read; the id breaks ties so paging is stable.
CREATE INDEX api_tokens_by_created ON api_tokens (account_id, created_at, id, status, module_bits) WHERE status != 'Deleted';
CREATE INDEX api_tokens_by_name ON api_tokens (account_id, name COLLATE NOCASE, id, status, module_bits) WHERE status != 'Deleted';
CREATE INDEX api_tokens_by_access ON api_tokens (account_id, last_access_at, id, status, module_bits) WHERE status != 'Deleted';
CREATE INDEX api_tokens_by_status ON api_tokens (account_id, status, name COLLATE NOCASE, id, module_bits) WHERE status != 'Deleted';

-- Substring search over id, name and description: a trigram full-text index
-- kept in step with api_tokens by triggers. It answers searches of three or
-- more characters without reading every row.
CREATE VIRTUAL TABLE api_tokens_search USING fts5 (
    id, name, description,
    content = 'api_tokens', content_rowid = 'rid', tokenize = 'trigram'
);

CREATE TRIGGER api_tokens_search_insert AFTER INSERT ON api_tokens
BEGIN
    INSERT INTO api_tokens_search (rowid, id, name, description) VALUES (new.rid, new.id, new.name, new.description);
END;

CREATE TRIGGER api_tokens_search_delete AFTER DELETE ON api_tokens
BEGIN
    INSERT INTO api_tokens_search (api_tokens_search, rowid, id, name, description)
    VALUES ('delete', old.rid, old.id, old.name, old.description);
END;

CREATE TRIGGER api_tokens_search_update AFTER UPDATE OF id, name, description ON api_tokens
BEGIN
    INSERT INTO api_tokens_search (api_tokens_search, rowid, id, name, description)
    VALUES ('delete', old.rid, old.id, old.name, old.description);
    INSERT INTO api_tokens_search (rowid, id, name, description) VALUES (new.rid, new.id, new.name, new.description);
END;

-- Logos live apart so that list queries do not drag image bytes along.
CREATE TABLE api_token_logos (
    token_id     TEXT PRIMARY KEY REFERENCES api_tokens (id),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data         BLOB NOT NULL
);

-- Logos uploaded in the first step of the Add wizard, held until the token is
-- added (or swept after a day), so the later steps need not carry the bytes.
CREATE TABLE logo_uploads (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data         BLOB NOT NULL,
    created_at   DATETIME NOT NULL
);

CREATE TABLE api_token_modules (
    token_id  TEXT NOT NULL REFERENCES api_tokens (id),
    module_id TEXT NOT NULL REFERENCES modules (id),
    PRIMARY KEY (token_id, module_id)
) WITHOUT ROWID;

CREATE INDEX api_token_modules_module ON api_token_modules (module_id, token_id);

-- The audit trail: append-only (the triggers refuse UPDATE and DELETE) and
-- hash-chained in seq order: hash = SHA-256(prev_hash || canonical record).
CREATE TABLE audit_records (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    event       TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    object_name TEXT NOT NULL,
    actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'token', 'system')),
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

-- The trail is read newest first, by account or by object, optionally by
-- event and time range: each index serves one of those shapes in order.
CREATE INDEX audit_records_account ON audit_records (account_id, occurred_at, seq);
CREATE INDEX audit_records_object ON audit_records (account_id, object_id, occurred_at, seq);
CREATE INDEX audit_records_event ON audit_records (account_id, event, occurred_at, seq);
CREATE INDEX audit_records_object_event ON audit_records (account_id, object_id, event, occurred_at, seq);

CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
