package ident

import (
	"strings"
	"testing"
)

func TestIndexName(t *testing.T) {
	if got := IndexName("claims", []string{"patient_id", "date_of_service"}, ""); got != "claims_patient_id_date_of_service_idx" {
		t.Errorf("plain: %s", got)
	}
	a := IndexName("claims", []string{"status"}, "where status = 'pended'")
	b := IndexName("claims", []string{"status"}, "where status = 'paid'")
	if a == b || !strings.HasPrefix(a, "claims_status_") {
		t.Errorf("variants: %s %s", a, b)
	}
	if got := IndexName("Lab Results", []string{"lower(\"Patient Id\")"}, ""); got != "lab_results_lower_patient_id_idx" {
		t.Errorf("expression: %s", got)
	}
	long := IndexName(strings.Repeat("t", 40), []string{strings.Repeat("c", 40), strings.Repeat("d", 40)}, "")
	if len(long) > 63 || long != IndexName(strings.Repeat("t", 40), []string{strings.Repeat("c", 40), strings.Repeat("d", 40)}, "") {
		t.Errorf("long names are cut and stable: %s (%d)", long, len(long))
	}
	if p := PartitionIndexName("claims_p_2024", "claims_p_patient_id_idx"); p != "claims_p_2024_claims_p_patient_id_idx" {
		t.Errorf("partition: %s", p)
	}
	if Literal("O'Brien") != "'O''Brien'" || Quote("public", "Lab Results") != `"public"."Lab Results"` {
		t.Error("quoting")
	}
}
