-- Each attempt of a plan step is a row: the run it belongs to, the step, the attempt,
-- the backend that ran it (so a later run can tell an interrupted step), its duration.
ALTER TABLE pgmedic.actions ADD COLUMN IF NOT EXISTS run_id text;
ALTER TABLE pgmedic.actions ADD COLUMN IF NOT EXISTS step int;
ALTER TABLE pgmedic.actions ADD COLUMN IF NOT EXISTS attempt int;
ALTER TABLE pgmedic.actions ADD COLUMN IF NOT EXISTS pid int DEFAULT pg_backend_pid();
ALTER TABLE pgmedic.actions ADD COLUMN IF NOT EXISTS duration_ms double precision;
CREATE INDEX IF NOT EXISTS actions_running_idx ON pgmedic.actions (id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS actions_started_at_idx ON pgmedic.actions (started_at);
