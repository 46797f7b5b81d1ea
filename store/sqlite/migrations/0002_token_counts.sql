-- The number of tokens of each account in each status, kept by triggers in
-- the same transaction as every change to api_tokens. The list's row count
-- ("1–10 of 100,000 rows") reads it instead of counting the index, which at
-- 100 000 tokens cost more than the page itself.
CREATE TABLE api_token_counts (
    account_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, status)
) WITHOUT ROWID;

INSERT INTO api_token_counts (account_id, status, n)
    SELECT account_id, status, COUNT(*) FROM api_tokens GROUP BY account_id, status;

CREATE TRIGGER api_token_counts_insert AFTER INSERT ON api_tokens
BEGIN
    INSERT INTO api_token_counts (account_id, status, n) VALUES (new.account_id, new.status, 1)
        ON CONFLICT (account_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER api_token_counts_delete AFTER DELETE ON api_tokens
BEGIN
    UPDATE api_token_counts SET n = n - 1 WHERE account_id = old.account_id AND status = old.status;
END;

CREATE TRIGGER api_token_counts_update AFTER UPDATE OF account_id, status ON api_tokens
    WHEN old.account_id != new.account_id OR old.status != new.status
BEGIN
    UPDATE api_token_counts SET n = n - 1 WHERE account_id = old.account_id AND status = old.status;
    INSERT INTO api_token_counts (account_id, status, n) VALUES (new.account_id, new.status, 1)
        ON CONFLICT (account_id, status) DO UPDATE SET n = n + 1;
END;
