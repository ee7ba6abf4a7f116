package compliance

import (
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/pgconn"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

//go:embed testdata/corpus.sql
var corpusSQL string

// truth is the expected verdict of each corpus column: true PHI, false not PHI. Columns
// whose status reasonable people dispute (claim numbers, a surrogate uuid) are absent and
// not scored.
var truth = map[string]bool{
	"synthea.patients.birthdate": true, "synthea.patients.deathdate": true, "synthea.patients.ssn": true,
	"synthea.patients.drivers": true, "synthea.patients.passport": true, "synthea.patients.first": true,
	"synthea.patients.middle": true, "synthea.patients.last": true, "synthea.patients.maiden": true,
	"synthea.patients.birthplace": true, "synthea.patients.address": true, "synthea.patients.city": true,
	"synthea.patients.county": true, "synthea.patients.fips": true, "synthea.patients.zip": true,
	"synthea.patients.lat": true, "synthea.patients.lon": true,
	"synthea.patients.prefix": false, "synthea.patients.suffix": false, "synthea.patients.marital": false,
	"synthea.patients.race": false, "synthea.patients.ethnicity": false, "synthea.patients.gender": false,
	"synthea.patients.state": false, "synthea.patients.healthcare_expenses": false,
	"synthea.patients.healthcare_coverage": false, "synthea.patients.income": false,

	"synpuf.beneficiary_summary.desynpuf_id": true, "synpuf.beneficiary_summary.bene_birth_dt": true,
	"synpuf.beneficiary_summary.bene_death_dt": true, "synpuf.beneficiary_summary.bene_county_cd": true,
	"synpuf.beneficiary_summary.bene_sex_ident_cd": false, "synpuf.beneficiary_summary.bene_race_cd": false,
	"synpuf.beneficiary_summary.bene_esrd_ind": false, "synpuf.beneficiary_summary.sp_state_code": false,
	"synpuf.beneficiary_summary.bene_hi_cvrage_tot_mons": false, "synpuf.beneficiary_summary.plan_cvrg_mos_num": false,
	"synpuf.beneficiary_summary.medreimb_ip": false, "synpuf.beneficiary_summary.benres_ip": false,
	"synpuf.carrier_claims.desynpuf_id": true, "synpuf.carrier_claims.clm_from_dt": true,
	"synpuf.carrier_claims.clm_thru_dt": true, "synpuf.carrier_claims.icd9_dgns_cd_1": true,
	"synpuf.carrier_claims.hcpcs_cd_1": true, "synpuf.carrier_claims.prf_physn_npi_1": false,
	"synpuf.carrier_claims.line_nch_pmt_amt_1": false,

	"omop.location.address_1": true, "omop.location.address_2": true, "omop.location.city": true,
	"omop.location.zip": true, "omop.location.county": true, "omop.location.latitude": true,
	"omop.location.longitude": true, "omop.location.state": false, "omop.location.country_concept_id": false,
	"omop.person.month_of_birth": true, "omop.person.day_of_birth": true, "omop.person.birth_datetime": true,
	"omop.person.person_source_value": true, "omop.person.gender_concept_id": false,
	"omop.person.race_concept_id": false, "omop.person.gender_source_value": false,
	"omop.person.race_source_value": false, "omop.person.care_site_id": false,
	"omop.note.note_date": true, "omop.note.note_datetime": true, "omop.note.note_text": true,
	"omop.note.note_title": false, "omop.note.encoding_concept_id": false,
	"omop.concept.concept_name": false, "omop.concept.concept_code": false, "omop.concept.valid_start_date": false,

	"ehr.pt.pt_no": true, "ehr.pt.given_nm": true, "ehr.pt.fam_nm": true, "ehr.pt.dob8": true,
	"ehr.pt.soc_sec": true, "ehr.pt.e_addr": true, "ehr.pt.home_ph": true, "ehr.pt.postal": true,
	"ehr.pt.x1": true, "ehr.pt.contact": true, "ehr.pt.ident": true, "ehr.pt.c7": true,
	"ehr.pt.remarks": true, "ehr.pt.status_cd": false, "ehr.pt.created_on": false,
	"ehr.visit.pt_ref": true, "ehr.visit.vdate": true, "ehr.visit.amt": false,
	"ehr.icd10_codes.code": false, "ehr.icd10_codes.descr": false, "ehr.icd10_codes.chapter": false,

	"billing.prov.npi": false, "billing.prov.prov_nm": false, "billing.prov.phone": false,
	"billing.prov.specialty": false,

	"mimic.patients.dob": true, "mimic.patients.dod": true, "mimic.patients.dod_hosp": true, "mimic.patients.dod_ssn": true,
	"mimic.patients.gender": false, "mimic.patients.expire_flag": false,
	"mimic.admissions.admittime": true, "mimic.admissions.dischtime": true, "mimic.admissions.deathtime": true,
	"mimic.admissions.edregtime": true, "mimic.admissions.edouttime": true, "mimic.admissions.diagnosis": true,
	"mimic.admissions.admission_type": false, "mimic.admissions.discharge_location": false,
	"mimic.admissions.insurance": false, "mimic.admissions.language": false, "mimic.admissions.religion": false,
	"mimic.admissions.marital_status": false, "mimic.admissions.ethnicity": false,
	"mimic.admissions.hospital_expire_flag": false,
	"mimic.noteevents.chartdate":            true, "mimic.noteevents.charttime": true, "mimic.noteevents.text": true,
	"mimic.noteevents.category": false, "mimic.noteevents.description": false, "mimic.noteevents.iserror": false,

	"emr.patient_data.pubpid": true, "emr.patient_data.fname": true, "emr.patient_data.lname": true,
	"emr.patient_data.mname": true, "emr.patient_data.DOB": true, "emr.patient_data.ss": true,
	"emr.patient_data.street": true, "emr.patient_data.postal_code": true, "emr.patient_data.city": true,
	"emr.patient_data.phone_home": true, "emr.patient_data.phone_cell": true, "emr.patient_data.email": true,
	"emr.patient_data.drivers_license": true, "emr.patient_data.sex": false, "emr.patient_data.race": false,
	"emr.patient_data.state": false, "emr.patient_data.genericname1": false, "emr.patient_data.providerID": false,

	"shop.orders.sku": false, "shop.orders.qty": false, "shop.orders.total": false,
	"shop.orders.order_date": false, "shop.orders.status": false, "shop.orders.coupon": false,
	"shop.orders.tracking": false,
}

func loadCorpus(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pg.NewDB(t)
	db.Exec(t, corpusSQL)
	db.Exec(t, "ANALYZE")
	return db
}

func discover(t *testing.T, uri string, cfg config.Healthcare) *Discovery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, uri, pgconn.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	d, err := Discover(ctx, conn, cfg, DiscoverOptions{Sample: 300})
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return d
}

// Recall and precision on schemas shaped like public data models, with opaque names
// whose values have to speak, and controls that tempt the validators.
func TestDiscoverCorpusRecallPrecision(t *testing.T) {
	db := loadCorpus(t)
	d := discover(t, db.SocketURI, config.Healthcare{})
	var tp, fp, fn int
	seen := map[string]bool{}
	for _, c := range d.Columns {
		key := c.Schema + "." + c.Table + "." + c.Column
		want, scored := truth[key]
		if !scored {
			continue
		}
		seen[key] = true
		switch {
		case want && c.PHI:
			tp++
		case want && !c.PHI:
			fn++
			t.Logf("missed %s: %s %.2f %v", key, c.Category, c.Confidence, c.Evidence)
		case !want && c.PHI:
			fp++
			t.Logf("false alarm %s: %s %.2f %v", key, c.Category, c.Confidence, c.Evidence)
		}
	}
	for k := range truth {
		if !seen[k] {
			t.Errorf("column %s not in the discovery", k)
		}
	}
	recall := float64(tp) / float64(tp+fn)
	precision := float64(tp) / float64(tp+fp)
	t.Logf("recall %.3f precision %.3f (tp %d fp %d fn %d of %d scored)", recall, precision, tp, fp, fn, len(truth))
	if recall < 0.95 || precision < 0.9 {
		t.Errorf("recall %.3f (want >= 0.95), precision %.3f (want >= 0.9)", recall, precision)
	}
	byKey := map[string]Column{}
	for _, c := range d.Columns {
		byKey[c.Schema+"."+c.Table+"."+c.Column] = c
	}
	// Opaque names are found by their values, with the evidence saying so.
	for key, cat := range map[string]string{"ehr.pt.x1": "ssn", "ehr.pt.contact": "email",
		"ehr.pt.ident": "health_plan_beneficiary_number", "ehr.pt.c7": "phone",
		"ehr.pt.remarks": "free_text_identifiers", "ehr.visit.pt_ref": "medical_record_number"} {
		c := byKey[key]
		if c.Category != cat {
			t.Errorf("%s: category %q, want %q (%v)", key, c.Category, cat, c.Evidence)
		}
	}
	if ev := strings.Join(byKey["ehr.visit.pt_ref"].Evidence, "; "); !strings.Contains(ev, "fk -> ehr.pt.pt_no") {
		t.Errorf("pt_ref evidence %q lacks the foreign key", ev)
	}
	if ev := strings.Join(byKey["ehr.pt.x1"].Evidence, "; "); !strings.Contains(ev, "% match SSN") {
		t.Errorf("x1 evidence %q lacks the value share", ev)
	}
}

// No sampled value reaches the result: every planted identifier is searched for in the
// JSON output.
func TestDiscoverNeverPrintsValues(t *testing.T) {
	db := loadCorpus(t)
	d := discover(t, db.SocketURI, config.Healthcare{})
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	planted := db.QueryStrings(t, `SELECT v FROM (
	    SELECT soc_sec v FROM ehr.pt UNION ALL SELECT x1 FROM ehr.pt UNION ALL SELECT e_addr FROM ehr.pt
	    UNION ALL SELECT contact FROM ehr.pt UNION ALL SELECT ident FROM ehr.pt UNION ALL SELECT c7 FROM ehr.pt
	    UNION ALL SELECT given_nm FROM ehr.pt UNION ALL SELECT dob8 FROM ehr.pt UNION ALL SELECT pt_no FROM ehr.pt
	    UNION ALL SELECT ssn FROM synthea.patients UNION ALL SELECT address FROM synthea.patients
	    UNION ALL SELECT person_source_value FROM omop.person) s`)
	if len(planted) < 5000 {
		t.Fatalf("only %d planted values", len(planted))
	}
	for _, v := range planted {
		if strings.Contains(string(out), v) {
			t.Fatalf("a sampled value appears in the discovery output")
		}
	}
	// Discovery's statements are marked, so workload analysis leaves them out.
	db.Exec(t, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	db.Exec(t, "SELECT pg_stat_statements_reset()")
	discover(t, db.SocketURI, config.Healthcare{})
	mine := db.QueryStrings(t, `SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	    AND (query ILIKE '%tablesample%' OR query ILIKE '%pg_attribute%')`)
	if len(mine) < 10 {
		t.Fatalf("only %d discovery statements in pg_stat_statements", len(mine))
	}
	for _, q := range mine {
		if !strings.HasPrefix(q, "/* pgmedic */") {
			t.Errorf("unmarked discovery statement: %.120s", q)
		}
	}
}

// Configuration wins over every signal, and a role that may not read a table still gets
// verdicts from names, marked name_only.
func TestDiscoverOverridesAndNameOnly(t *testing.T) {
	db := loadCorpus(t)
	cfg := config.Healthcare{PHIColumns: []string{"shop.orders.coupon"}, NotPHI: []string{"ehr.pt.x1"}}
	d := discover(t, db.SocketURI, cfg)
	for _, c := range d.Columns {
		switch c.Schema + "." + c.Table + "." + c.Column {
		case "shop.orders.coupon":
			if !c.PHI || c.Confidence != 1 {
				t.Errorf("phiColumns entry: %+v", c)
			}
		case "ehr.pt.x1":
			if c.PHI {
				t.Errorf("notPHI entry still PHI: %+v", c)
			}
		}
	}
	db.Exec(t, `DROP ROLE IF EXISTS phi_nameonly; CREATE ROLE phi_nameonly LOGIN;
	    GRANT USAGE ON SCHEMA ehr, synthea TO phi_nameonly; GRANT SELECT ON synthea.patients TO phi_nameonly`)
	t.Cleanup(func() { db.Exec(t, "DROP OWNED BY phi_nameonly; DROP ROLE phi_nameonly") })
	d = discover(t, db.SocketURIAs("phi_nameonly"), config.Healthcare{})
	var named, sampled int
	for _, c := range d.Columns {
		switch c.Schema + "." + c.Table {
		case "ehr.pt":
			if !c.NameOnly {
				t.Errorf("ehr.pt.%s sampled without SELECT", c.Column)
			}
			if c.Column == "soc_sec" && c.PHI {
				named++
			}
			if c.Column == "x1" && c.PHI {
				t.Errorf("x1 judged PHI without reading values: %+v", c)
			}
		case "synthea.patients":
			if !c.NameOnly {
				sampled++
			}
		}
	}
	for _, tb := range d.Tables {
		if tb.Schema+"."+tb.Name == "ehr.pt" && tb.NotSampled != "no SELECT privilege" {
			t.Errorf("ehr.pt not sampled because %q, want the missing privilege named", tb.NotSampled)
		}
	}
	if named != 1 || sampled == 0 {
		t.Errorf("name-only verdicts: soc_sec PHI %d, synthea sampled columns %d", named, sampled)
	}
}
