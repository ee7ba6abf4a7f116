-- Claims processing: lock a claim, adjudicate it, post a payment.
\set cid random(1, 20000)
\set pct random(50, 95)
BEGIN;
SELECT id, status, billed_amount, payer_id FROM claims WHERE id = :cid FOR UPDATE;
SELECT sum(billed_amount) AS lines_billed, count(*) FROM claim_lines WHERE claim_id = :cid;
UPDATE claims SET allowed_amount = round(billed_amount * :pct / 100.0, 2), paid_amount = round(billed_amount * :pct / 100.0 * 0.9, 2), status = CASE WHEN status IN ('received', 'pended') THEN 'adjudicated' ELSE status END, adjudicated_at = coalesce(adjudicated_at, now()), updated_at = now() WHERE id = :cid;
INSERT INTO payments (claim_id, payer_id, amount, method, status, trace_number) SELECT id, payer_id, coalesce(paid_amount, 0), 'EFT', 'Pending', 'TRN-PGB-' || :cid FROM claims WHERE id = :cid;
UPDATE payments SET status = 'Posted', posted_at = now() WHERE claim_id = :cid AND status = 'Pending';
END;
