-- Drafts of the console's Add wizard: what a user has entered so far, kept
-- on the server between the steps, so that each step is a page of its own
-- (GET /settings/api-tokens/new?draft=…&step=N) that Back, Reload and a
-- bookmark show again. A draft belongs to the user who started it; several
-- may be open at once (one per browser tab). token_id is set, in the
-- transaction that adds the token, when the draft is added: a draft is added
-- once. Drafts untouched for a day are deleted by a periodic job.
CREATE TABLE token_drafts (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    modules     TEXT NOT NULL, -- a JSON array of module ids
    logo_upload TEXT NOT NULL, -- a logo_uploads id, or ''
    reached     INTEGER NOT NULL, -- the furthest step the draft may show
    errors      TEXT NOT NULL, -- a JSON object: field → message of the last check
    token_id    TEXT,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

CREATE INDEX token_drafts_by_user ON token_drafts (user_id, updated_at);
CREATE INDEX token_drafts_by_updated ON token_drafts (updated_at);
