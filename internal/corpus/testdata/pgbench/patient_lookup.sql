-- Front desk: find a patient, show the chart header, upcoming appointments and recent claims.
\set pid random(1, 2000)
\set page random(0, 40)
SELECT id, mrn, first_name, last_name, date_of_birth, phone, email FROM patients WHERE id = :pid;
SELECT id, mrn, first_name, last_name FROM patients WHERE email = lower('x.y.' || :pid || '@example.org') OR id = :pid;
SELECT a.id, a.scheduled_date_time, a.status, p.last_name AS provider FROM appointments a JOIN providers p ON p.id = a.provider_id WHERE a.patient_id = :pid AND a.scheduled_date_time >= now() - interval '30 days' ORDER BY a.scheduled_date_time LIMIT 10;
SELECT c.claim_number, c.date_of_service, c.status, coalesce(c.paid_amount, 0) AS paid FROM claims c WHERE c.patient_id = :pid ORDER BY c.date_of_service DESC LIMIT 20;
SELECT id, mrn, last_name, first_name FROM patients ORDER BY last_name, first_name, id LIMIT 25 OFFSET :page * 25;
