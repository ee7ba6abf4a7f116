-- Scheduling: check a provider's availability, book, audit, confirm.
\set pid random(1, 2000)
\set prov random(1, 100)
\set dow random(0, 6)
\set days random(1, 90)
\set uid random(2, 60)
BEGIN;
SELECT start_time, end_time, location FROM availabilities WHERE provider_id = :prov AND day_of_week = :dow ORDER BY start_time;
SELECT count(*) FROM appointments WHERE provider_id = :prov AND scheduled_date_time >= date '2027-01-01' + :days::int AND scheduled_date_time < date '2027-01-01' + :days::int + 1 AND status IN ('Scheduled', 'Confirmed');
INSERT INTO appointments (patient_id, provider_id, scheduled_date_time, duration, status, appointment_type, reason) VALUES (:pid, :prov, timestamptz '2027-01-01 09:00:00+00' + make_interval(days => :days), 30, 'Scheduled', 'follow_up', 'pgbench') RETURNING id AS appt_id \gset
INSERT INTO audit_logs (user_id, action, table_name, record_id, client_ip, details) SELECT u.id, 'Create', 'appointments', :appt_id::text, inet '10.0.0.1', jsonb_build_object('app', 'scheduler', 'by', 'pgbench') FROM users u WHERE u.id = (SELECT min(id) FROM users WHERE id >= :uid);
UPDATE appointments SET status = 'Confirmed' WHERE id = :appt_id RETURNING id, status;
END;
