package healthcare

import "testing"

func strs(vs ...string) []*string {
	out := make([]*string, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

func TestScanValuesKinds(t *testing.T) {
	cases := []struct {
		values []string
		kind   ValueKind
	}{
		{[]string{"123-45-6789", "234-56-7890", "345 67 8901", "456.78.9012", "567-89-0123"}, KindSSN},
		{[]string{"1EG4TE5MK73", "2AC4-DE5-FG67", "9XY1AC2CD34", "1AA0AA0AA00", "3KM9NP8QR76"}, KindMBI},
		{[]string{"(617) 555-0101", "617.555.0102", "+1 617 555 0103", "6175550104", "1-617-555-0105"}, KindPhone},
		{[]string{"19840213", "1999-12-31", "02/13/1984", "13-Feb-1984", "2001-01-01 10:00:00"}, KindDate},
		{[]string{"10.0.0.1/32", "192.168.1.7", "::1/128", "2001:db8::1", "8.8.8.8"}, KindIP},
		{[]string{"1234567893", "1003000126", "1487776548", "1417990870", "1234567893"}, KindNPI},
	}
	for _, c := range cases {
		s := ScanValues(strs(c.values...))
		if k, share := s.Dominant(0.6); k != c.kind || share < 0.99 {
			t.Errorf("%v: dominant %q %.2f, want %q", c.values, k, share, c.kind)
		}
	}
	// Invalid SSNs (area 000 or 666, group 00, serial 0000) and MBIs with excluded letters.
	s := ScanValues(strs("000-12-3456", "666-12-3456", "123-00-4567", "123-45-0000", "1SL4TE5MK73", "1EG4TE5MK7"))
	if s.Whole[KindSSN]+s.Whole[KindMBI] != 0 {
		t.Errorf("invalid identifiers matched: %v", s.Whole)
	}
}

func TestScanValuesEmbeddedAndNulls(t *testing.T) {
	notes := strs("Called back at (617) 555-0101 about results", "SSN 123-45-6789 verified at intake desk",
		"Reports mild cough, no fever today", "Sent summary to kin@example.com as requested", "MRN 00123456 merged with duplicate record")
	notes = append(notes, nil, nil)
	s := ScanValues(notes)
	if s.Sampled != 7 || s.NonEmpty != 5 || s.FreeText != 5 {
		t.Fatalf("counts: %+v", s)
	}
	for _, k := range []ValueKind{KindPhone, KindSSN, KindEmail, KindMRN} {
		if s.Embedded[k] != 1 {
			t.Errorf("embedded %s: %d, want 1", k, s.Embedded[k])
		}
	}
	if v := freeTextVerdict(&s); v == nil || v.Category != CategoryFreeText {
		t.Errorf("free text verdict: %+v", v)
	}
}

func TestJudgeSignals(t *testing.T) {
	patient := TableClass{Role: Patient, PHI: true, PatientLinked: true}
	ssnScan := ScanValues(strs("123-45-6789", "234-56-7890", "345-67-8901", "456-78-9012", "567-89-0123"))
	// Values alone make an opaquely named column an SSN.
	v := Judge(ColumnEvidence{Column: "x1", Type: "text", Values: &ssnScan, Class: patient})
	if v.Category != "ssn" || !v.PHI() {
		t.Errorf("values alone: %+v", v)
	}
	// A provider's phone is not PHI; a patient's is.
	phone := []Match{{Identifier: Phone, Confidence: 0.95}}
	if v := Judge(ColumnEvidence{Column: "phone", Type: "text", Names: phone, Class: TableClass{Role: Provider}}); v.PHI() {
		t.Errorf("provider phone: %+v", v)
	}
	if v := Judge(ColumnEvidence{Column: "phone", Type: "text", Names: phone, Class: patient}); !v.PHI() {
		t.Errorf("patient phone: %+v", v)
	}
	// A foreign key to an MRN column is an MRN.
	mrn := Verdict{Category: "medical_record_number", Identifier: MRN, Confidence: 0.95}
	v = Judge(ColumnEvidence{Column: "pt_ref", Type: "text", References: "ehr.pt.pt_no", Referenced: &mrn, Class: patient})
	if v.Identifier != MRN || len(v.Evidence) == 0 || v.Evidence[0] != "fk -> ehr.pt.pt_no" {
		t.Errorf("fk: %+v", v)
	}
	// Configuration wins.
	if v := Judge(ColumnEvidence{Column: "x1", Values: &ssnScan, Excluded: true, Class: patient}); v.PHI() {
		t.Errorf("notPHI: %+v", v)
	}
}
