package synth

import (
	"fmt"
	"strings"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// DistinctStatements makes n distinct normalised statements over the reference schema:
// different tables, predicate columns, operators, orderings and limits, for benchmarks
// of the analyzers on a large workload.
func DistinctStatements(n int) []string {
	tables := map[string][]string{
		"patients":     {"mrn", "last_name", "first_name", "date_of_birth", "city", "state", "postal_code", "email", "plan_id", "primary_provider_id"},
		"claims":       {"patient_id", "provider_id", "payer_id", "status", "date_of_service", "received_at", "claim_type", "primary_diagnosis", "billed_amount", "plan_id"},
		"appointments": {"patient_id", "provider_id", "status", "scheduled_date_time", "appointment_type", "duration"},
		"claim_lines":  {"claim_id", "cpt_code", "icd10_code", "service_date", "units", "modifier"},
		"payments":     {"claim_id", "payer_id", "status", "created_at", "method"},
		"providers":    {"npi", "specialty", "state", "network", "is_active"},
		"users":        {"email", "user_type", "is_active", "patient_id"},
	}
	order := []string{"patients", "claims", "appointments", "claim_lines", "payments", "providers", "users"}
	ops := []string{"=", ">=", "<"}
	var out []string
	seen := map[string]bool{}
	for round := 0; len(out) < n; round++ {
		for _, t := range order {
			cols := tables[t]
			for i, a := range cols {
				for _, op := range ops {
					b := cols[(i+1+round)%len(cols)]
					key := "id"
					if t == "claim_lines" {
						key = "line_number"
					}
					sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s %s $1", key, t, a, op)
					if round > 0 {
						sql = fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s %s $1 AND %s = $2 ORDER BY %s LIMIT %d", key, b, t, a, op, b, a, 10+round)
					}
					if round > 1 {
						sql += fmt.Sprintf(" OFFSET %d", round) // a different shape per round
						sql = strings.Replace(sql, "SELECT ", fmt.Sprintf("SELECT %d AS r, ", round), 1)
					}
					fp, err := sqlparse.Fingerprint(sql)
					if err != nil || seen[fp] {
						continue
					}
					seen[fp] = true
					out = append(out, sql)
					if len(out) == n {
						return out
					}
				}
			}
		}
	}
	return out
}
