-- The account audit trail filters by actor (a user, one token, the system)
-- and by any API token, newest first: each index serves one of those shapes
-- in order, as 0001's serve the object and event filters.
CREATE INDEX audit_records_actor ON audit_records (account_id, actor_id, occurred_at, seq);
CREATE INDEX audit_records_actor_type ON audit_records (account_id, actor_type, occurred_at, seq);

-- Its object filter finds tokens by the start of their name, deleted ones
-- included. The list's name indexes (0001) hold the live tokens; this one
-- holds the deleted ones, so that a name costs the tokens it matches.
CREATE INDEX api_tokens_deleted_by_name ON api_tokens (account_id, name COLLATE NOCASE, id) WHERE status = 'Deleted';
