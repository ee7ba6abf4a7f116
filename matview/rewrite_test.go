package matview

import (
	"strings"
	"testing"
)

func TestPlanShapes(t *testing.T) {
	cases := []struct {
		sql        string
		keys       string
		inRewrite  []string
		notEligble string
	}{
		{`SELECT cl.icd10_code, count(*) AS lines, sum(cl.billed_amount) AS billed, sum(cl.paid_amount) AS paid
		  FROM claim_lines cl JOIN claims c ON c.id = cl.claim_id
		  WHERE c.date_of_service >= $1 AND c.date_of_service < $2
		  GROUP BY cl.icd10_code ORDER BY billed DESC LIMIT 25`,
			"icd10_code,date_of_service", []string{"date_of_service >= $1", "sum(sum_2) AS billed", "LIMIT 25", "ORDER BY billed DESC"}, ""},
		{`SELECT provider_id, COUNT(*) AS total_appointments, SUM(CASE WHEN status = 'NoShow' THEN 1 ELSE 0 END) AS no_shows
		  FROM appointments GROUP BY provider_id`, "provider_id", []string{"sum(count_1)::bigint AS total_appointments"}, ""},
		{`SELECT status, avg(billed_amount), count(*) FROM claims WHERE provider_id = $1 AND status <> 'void' GROUP BY status`,
			"status,provider_id", []string{"provider_id = $1", "AS avg", "AS count"}, ""},
		{`SELECT count(DISTINCT patient_id) FROM claims WHERE provider_id = $1`, "", nil, "DISTINCT"},
		{`SELECT provider_id, sum(CASE WHEN status = $1 THEN $2 ELSE $3 END) FROM appointments GROUP BY provider_id`, "", nil, "parameter inside sum"},
		{`SELECT id, name FROM providers WHERE id = $1`, "", nil, "no aggregate"},
		{`SELECT status, count(*) FROM claims WHERE lower(status) = $1 GROUP BY status`, "", nil, "parameter"},
		{`SELECT status, billed_amount, count(*) FROM claims GROUP BY status`, "", nil, "outside GROUP BY"},
	}
	for _, c := range cases {
		d, err := Plan(c.sql)
		if c.notEligble != "" {
			why, ok := NotEligible(err)
			if !ok || !strings.Contains(why, c.notEligble) {
				t.Errorf("%.60s: %v, want not eligible (%s)", c.sql, err, c.notEligble)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.60s: %v", c.sql, err)
			continue
		}
		if got := strings.Join(d.Keys, ","); got != c.keys {
			t.Errorf("%.60s: keys %s, want %s\n%s", c.sql, got, c.keys, d.Select)
		}
		for _, want := range c.inRewrite {
			if !strings.Contains(d.Rewritten, want) {
				t.Errorf("%.60s: rewrite lacks %q:\n%s\nview: %s", c.sql, want, d.Rewritten, d.Select)
			}
		}
	}
}
