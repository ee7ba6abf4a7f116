-- Data keys of columns encrypted by pgmedic comply fix --encrypt, each wrapped (AES-256-GCM)
-- by a master key that never reaches the server. Without the master key they open nothing.
CREATE TABLE IF NOT EXISTS pgmedic.column_keys (
    column_id   text PRIMARY KEY,           -- schema.table.column
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE pgmedic.column_keys IS 'pgmedic: wrapped data keys of application-encrypted PHI columns';
