-- Revenue cycle reports: monthly totals per payer, top claims per provider, denial rates.
\set payer random(1, 30)
\set days random(30, 365)
\set prov random(1, 100)
SELECT date_trunc('month', date_of_service) AS month, count(*) AS claims, sum(billed_amount) AS billed, coalesce(sum(paid_amount), 0) AS paid FROM claims WHERE payer_id = :payer AND date_of_service >= date '2026-01-01' - :days::int GROUP BY 1 ORDER BY 1;
WITH ranked AS (SELECT id, provider_id, billed_amount, rank() OVER (PARTITION BY provider_id ORDER BY billed_amount DESC) AS rk FROM claims WHERE provider_id = :prov) SELECT id, billed_amount FROM ranked WHERE rk <= 5;
SELECT p.specialty, count(*) FILTER (WHERE c.status = 'denied')::numeric / nullif(count(*), 0) AS denial_rate FROM claims c JOIN providers p ON p.id = c.provider_id WHERE c.date_of_service BETWEEN date '2025-01-01' AND date '2025-01-01' + :days::int GROUP BY p.specialty HAVING count(*) > 10 ORDER BY 2 DESC NULLS LAST;
SELECT details->>'app' AS app, count(*) FROM audit_logs WHERE details @> '{"purpose": "treatment"}' AND occurred_at >= now() - make_interval(days => :days) GROUP BY 1;
SELECT EXISTS (SELECT 1 FROM claims WHERE payer_id = :payer AND status = 'appealed') AS has_appeals;
