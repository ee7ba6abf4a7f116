-- pgmedic's own audit trail in the database it changes: who, when, what.
CREATE SCHEMA IF NOT EXISTS pgmedic;
CREATE TABLE IF NOT EXISTS pgmedic.actions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    actor       text NOT NULL DEFAULT session_user,
    client      text DEFAULT inet_client_addr()::text,
    tool        text,
    kind        text NOT NULL,
    object      text NOT NULL,
    statement   text NOT NULL,
    status      text NOT NULL,
    detail      text
);
COMMENT ON TABLE pgmedic.actions IS 'Changes pgmedic made to this database: who, when, what.';
