-- The whole schema of SPEC §2: store/migrations/0001_create_schema.sql
-- translated for PostgreSQL 15, with the same tables, columns and index names.
-- Times are timestamptz, stored in UTC; audit timestamps stay milliseconds
-- since the epoch (bigint), the value the audit chain hashes.
--
-- Every text column collates "C", as SQLite's default BINARY does: orders
-- and keyset paging compare bytes on both engines, whatever collation the
-- database was created with, and lower() folds ASCII letters only, as
-- SQLite's NOCASE does, so lower(x) stands for x COLLATE NOCASE.

-- Trigram indexes for the substring search (trusted: the database owner may
-- create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE accounts (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    type       TEXT COLLATE "C" NOT NULL CHECK (type IN ('Client', 'Vendor', 'Operations')),
    created_at TIMESTAMPTZ NOT NULL
);

-- The module catalogue ships with the product. Each module owns one bit, so
-- a token's granted modules also fit in one integer that the list indexes
-- carry (api_tokens.module_bits) and the module filter reads without a join.
CREATE TABLE modules (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    position    BIGINT NOT NULL,
    bit         BIGINT NOT NULL UNIQUE
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
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    module_id  TEXT COLLATE "C" NOT NULL REFERENCES modules (id),
    PRIMARY KEY (account_id, module_id)
);

-- email is unique ignoring case (SQLite: COLLATE NOCASE UNIQUE): the unique
-- index on lower(email) below, which a lookup by email uses when it compares
-- lower(email) = lower($1).
CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    email         TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    role          TEXT COLLATE "C" NOT NULL CHECK (role IN ('Administrator', 'Operator', 'Viewer')),
    password_hash TEXT COLLATE "C" NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_account ON users (account_id);

-- Server-side sessions. The cookie holds an opaque random id; only its
-- SHA-256 is stored, so a copy of the database does not yield live cookies.
CREATE TABLE sessions (
    id_hash      TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    data         TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

-- rid numbers the rows in insertion order, as on SQLite (where the search
-- table refers to rows by it; here the search indexes sit on the table).
CREATE TABLE api_tokens (
    rid               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    name              TEXT COLLATE "C" NOT NULL,
    description       TEXT COLLATE "C" NOT NULL DEFAULT '',
    status            TEXT COLLATE "C" NOT NULL CHECK (status IN ('Active', 'Disabled', 'Deleted')),
    secret_hash       BYTEA NOT NULL UNIQUE,
    secret_sealed     BYTEA NOT NULL,
    logo_type         TEXT COLLATE "C",
    module_bits       BIGINT NOT NULL DEFAULT 0, -- the bits of the rows in api_token_modules
    created_at        TIMESTAMPTZ NOT NULL,
    created_by_id     TEXT COLLATE "C" NOT NULL,
    created_by_name   TEXT COLLATE "C" NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    updated_by_id     TEXT COLLATE "C" NOT NULL,
    updated_by_name   TEXT COLLATE "C" NOT NULL,
    last_access_at    TIMESTAMPTZ,
    last_access_ip    TEXT COLLATE "C",
    last_access_agent TEXT COLLATE "C",
    disabled_at       TIMESTAMPTZ,
    disabled_by_id    TEXT COLLATE "C",
    disabled_by_name  TEXT COLLATE "C",
    disabled_reason   TEXT COLLATE "C",
    deleted_at        TIMESTAMPTZ,
    deleted_by_id     TEXT COLLATE "C",
    deleted_by_name   TEXT COLLATE "C",
    version           BIGINT NOT NULL DEFAULT 1
);

-- One index per list order over the live (not deleted) tokens. Each holds the
-- columns the list filters on, so a page's ids are found from the index alone
-- and only the rows shown are read; the id breaks ties so paging is stable.
-- lower(name) is SQLite's name COLLATE NOCASE. last_access_at puts NULLs
-- first, where SQLite sorts them in ascending order, so that the index serves
-- both ORDER BY last_access_at ASC NULLS FIRST and DESC NULLS LAST.
CREATE INDEX api_tokens_by_created ON api_tokens (account_id, created_at, id, status, module_bits) WHERE status <> 'Deleted';
CREATE INDEX api_tokens_by_name ON api_tokens (account_id, lower(name), id, status, module_bits) WHERE status <> 'Deleted';
CREATE INDEX api_tokens_by_access ON api_tokens (account_id, last_access_at NULLS FIRST, id, status, module_bits) WHERE status <> 'Deleted';
CREATE INDEX api_tokens_by_status ON api_tokens (account_id, status, lower(name), id, module_bits) WHERE status <> 'Deleted';

-- Substring search over id, name and description: trigram indexes, in place
-- of SQLite's FTS5 trigram table api_tokens_search and its triggers. They
-- answer lower(x) LIKE '%…%' for searches of three or more characters
-- without reading every row, and cover every token, as that table does.
CREATE INDEX api_tokens_search_id ON api_tokens USING gin (lower(id) gin_trgm_ops);
CREATE INDEX api_tokens_search_name ON api_tokens USING gin (lower(name) gin_trgm_ops);
CREATE INDEX api_tokens_search_description ON api_tokens USING gin (lower(description) gin_trgm_ops);

-- Logos live apart so that list queries do not drag image bytes along.
CREATE TABLE api_token_logos (
    token_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES api_tokens (id),
    content_type TEXT COLLATE "C" NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data         BYTEA NOT NULL
);

-- Logos uploaded in the first step of the Add wizard, held until the token is
-- added (or swept after a day), so the later steps need not carry the bytes.
CREATE TABLE logo_uploads (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT COLLATE "C" NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data         BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_token_modules (
    token_id  TEXT COLLATE "C" NOT NULL REFERENCES api_tokens (id),
    module_id TEXT COLLATE "C" NOT NULL REFERENCES modules (id),
    PRIMARY KEY (token_id, module_id)
);

CREATE INDEX api_token_modules_module ON api_token_modules (module_id, token_id);

-- The audit trail: append-only (the triggers refuse UPDATE, DELETE and
-- TRUNCATE) and hash-chained in seq order: hash = SHA-256(prev_hash ||
-- canonical record). seq comes from an identity, which may skip numbers
-- (a rolled-back insert uses one up): the chain is in seq order, not in
-- consecutive numbers.
CREATE TABLE audit_records (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id  TEXT COLLATE "C" NOT NULL,
    occurred_at BIGINT NOT NULL,
    event       TEXT COLLATE "C" NOT NULL,
    object_type TEXT COLLATE "C" NOT NULL,
    object_id   TEXT COLLATE "C" NOT NULL,
    object_name TEXT COLLATE "C" NOT NULL,
    actor_type  TEXT COLLATE "C" NOT NULL CHECK (actor_type IN ('user', 'token', 'system')),
    actor_id    TEXT COLLATE "C" NOT NULL,
    actor_name  TEXT COLLATE "C" NOT NULL,
    ip          TEXT COLLATE "C" NOT NULL DEFAULT '',
    user_agent  TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary     TEXT COLLATE "C" NOT NULL,
    details     TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    prev_hash   TEXT COLLATE "C" NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL
);

-- The trail is read newest first, by account or by object, optionally by
-- event and time range: each index serves one of those shapes in order.
CREATE INDEX audit_records_account ON audit_records (account_id, occurred_at, seq);
CREATE INDEX audit_records_object ON audit_records (account_id, object_id, occurred_at, seq);
CREATE INDEX audit_records_event ON audit_records (account_id, event, occurred_at, seq);
CREATE INDEX audit_records_object_event ON audit_records (account_id, object_id, event, occurred_at, seq);

-- restrict_violation (SQLSTATE 23001): a change the data's integrity forbids.
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();

CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();

CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
