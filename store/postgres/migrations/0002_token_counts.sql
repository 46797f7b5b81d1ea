-- The number of tokens of each account in each status, kept by triggers in
-- the same transaction as every change to api_tokens. The list's row count
-- ("1–10 of 100,000 rows") reads it instead of counting the index, which at
-- 100 000 tokens cost more than the page itself.
CREATE TABLE api_token_counts (
    account_id TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (account_id, status)
);

INSERT INTO api_token_counts (account_id, status, n)
    SELECT account_id, status, COUNT(*) FROM api_tokens GROUP BY account_id, status;

-- Concurrent changes to one account's tokens wait for each other on its
-- counts rows: under READ COMMITTED each then counts from the row as the
-- other left it; under REPEATABLE READ the second fails with a serialization
-- failure, to be retried.
CREATE FUNCTION api_token_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO api_token_counts (account_id, status, n) VALUES (NEW.account_id, NEW.status, 1)
        ON CONFLICT (account_id, status) DO UPDATE SET n = api_token_counts.n + 1;
    RETURN NULL;
END;
$$;

CREATE FUNCTION api_token_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_token_counts SET n = n - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
    RETURN NULL;
END;
$$;

-- A change of status touches two count rows. They are touched in one order,
-- the smaller (account, status) first, so that two tokens moving in opposite
-- directions at once (one disabled, one enabled) cannot deadlock on them.
CREATE FUNCTION api_token_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.account_id, OLD.status) < (NEW.account_id, NEW.status) THEN
        UPDATE api_token_counts SET n = n - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
        INSERT INTO api_token_counts (account_id, status, n) VALUES (NEW.account_id, NEW.status, 1)
            ON CONFLICT (account_id, status) DO UPDATE SET n = api_token_counts.n + 1;
    ELSE
        INSERT INTO api_token_counts (account_id, status, n) VALUES (NEW.account_id, NEW.status, 1)
            ON CONFLICT (account_id, status) DO UPDATE SET n = api_token_counts.n + 1;
        UPDATE api_token_counts SET n = n - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_token_counts_insert AFTER INSERT ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_token_counts_insert();

CREATE TRIGGER api_token_counts_delete AFTER DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_token_counts_delete();

CREATE TRIGGER api_token_counts_update AFTER UPDATE OF account_id, status ON api_tokens
    FOR EACH ROW WHEN (OLD.account_id <> NEW.account_id OR OLD.status <> NEW.status)
    EXECUTE FUNCTION api_token_counts_update();
