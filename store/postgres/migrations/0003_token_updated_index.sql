-- The API orders tokens by any field path; the list's ids come from an index
-- for the ones clients sort by most: created (0001), last access (0001), and
-- last updated, which "what changed lately" syncs ask for
-- (order=-audit.updated.at).
CREATE INDEX api_tokens_by_updated ON api_tokens (account_id, updated_at, id, status, module_bits) WHERE status <> 'Deleted';
