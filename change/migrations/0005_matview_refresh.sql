-- Refreshes of materialized views made through pgmedic, for staleness reports
-- (PostgreSQL keeps no record of when a view was last refreshed).
CREATE TABLE IF NOT EXISTS pgmedic.matview_refresh (
    view_name    text NOT NULL,           -- schema.view
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    seconds      double precision,
    concurrent   boolean NOT NULL,
    refreshed_by text NOT NULL DEFAULT session_user
);
CREATE INDEX IF NOT EXISTS matview_refresh_view_idx ON pgmedic.matview_refresh (view_name, refreshed_at DESC);
