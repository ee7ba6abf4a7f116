package sqlparse

import (
	"strings"
	"testing"
)

func TestRewriteTypedParams(t *testing.T) {
	cases := map[string]string{
		"SELECT * FROM t WHERE d >= date $1":                                    "SELECT * FROM t WHERE d >= $1::date",
		"SELECT timestamp with time zone $2, time without time zone $3":         "SELECT $2::timestamp with time zone, $3::time without time zone",
		"SELECT now() - interval $4 day":                                        "SELECT now() - $4::interval day",
		"SELECT x AT TIME ZONE $3 FROM t":                                       "SELECT x AT TIME ZONE $3 FROM t",
		"SELECT varchar(10) $1, numeric(10, 2) $2, timestamp(3) $3":             "SELECT $1::varchar(10), $2::numeric(10, 2), $3::timestamp(3)",
		"SELECT pg_catalog.int4 $1, \"MyType\" $2, bit $3, double precision $4": "SELECT $1::pg_catalog.int4, $2::\"MyType\", $3::bit, $4::double precision",
		"SELECT character varying $1, national character $2, bit varying $3":    "SELECT $1::character varying, $2::national character, $3::bit varying",
		"SELECT * FROM t WHERE s LIKE $1 ESCAPE $2 FETCH FIRST $3 ROWS ONLY":    "SELECT * FROM t WHERE s LIKE $1 ESCAPE $2 FETCH FIRST $3 ROWS ONLY",
		"SELECT extract($1 from d), EXTRACT ( $2 FROM d) FROM t":                "SELECT pg_catalog.date_part($1::text, d), pg_catalog.date_part($2::text, d) FROM t",
		"SELECT 'date $1', \"date\" FROM t -- date $1":                          "SELECT 'date $1', \"date\" FROM t -- date $1",
		"SELECT uuid $1, jsonb $2, OPERATOR(pg_catalog.=) $3":                   "SELECT $1::uuid, $2::jsonb, OPERATOR(pg_catalog.=) $3",
		"SELECT timestamp(6) with time zone $1":                                 "SELECT $1::timestamp(6) with time zone",
	}
	for in, want := range cases {
		if got := RewriteTypedParams(in); got != want {
			t.Errorf("RewriteTypedParams(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestTakeLiterals(t *testing.T) {
	in, err := Take("/* app='web' */ SELECT * FROM claims WHERE status = 'pended' AND billed_amount > -5.5 AND date_of_service >= date '2024-01-31' AND id IN (1, 2) AND flag = true LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(in.Text, "pended") || strings.Contains(in.Display, "pended") || strings.Contains(in.Display, "app=") {
		t.Errorf("values or comments left in %q / %q", in.Text, in.Display)
	}
	if !strings.Contains(in.Text, "::date") || !strings.Contains(in.Display, "date $") {
		t.Errorf("typed literal: text %q display %q", in.Text, in.Display)
	}
	want := []struct{ kind, value, typed string }{
		{"string", "pended", ""}, {"float", "-5.5", ""}, {"string", "2024-01-31", "date"},
		{"integer", "1", ""}, {"integer", "2", ""}, {"boolean", "true", ""}, {"integer", "10", ""},
	}
	if in.Params != len(want) || len(in.Literals) != len(want) {
		t.Fatalf("params %d literals %d, want %d: %s", in.Params, len(in.Literals), len(want), in.Text)
	}
	for i, w := range want {
		l := in.Literals[i]
		if l == nil || l.Kind != w.kind || l.Value() != w.value || l.Typed != w.typed {
			t.Errorf("$%d: got %+v, want %+v", i+1, l, w)
		}
	}
}

func TestTakeReasons(t *testing.T) {
	long := "SELECT id, mrn, last_name FROM patients WHERE " + strings.Repeat("last_name = $1 OR ", 60)
	long = long[:1020] + " = "
	cases := map[string]string{
		"DO $$ BEGIN PERFORM 1; END $$":            ReasonProcedural,
		"CALL archive_claims($1)":                  ReasonCall,
		"EXECUTE pgmedic_x(1, 2)":                  ReasonExecute,
		"COPY claims FROM STDIN":                   ReasonCopy,
		"FETCH 100 FROM c1":                        ReasonCursor,
		"SELECT 1; SELECT 2":                       ReasonSeveral,
		"VACUUM claims":                            ReasonUtility,
		long:                                       ReasonTruncated,
		"SELECT * FROM claims WHERE status = 'pen": ReasonTruncated,
		"SELECT * FROM claims WHERE WHERE x = 1":   ReasonSyntax,
		"-- nothing":                               ReasonEmpty,
	}
	for text, code := range cases {
		_, err := Take(text)
		np, ok := IsNotPlannable(err)
		if !ok || np.Code != code {
			t.Errorf("Take(%.40q): %v, want reason %s", text, err, code)
		}
	}
	if _, err := Take("SELECT * FROM claims WHERE ssn = 'x' WHERE"); err == nil || strings.Contains(err.Error(), "'x'") {
		t.Errorf("a syntax error must not quote the text: %v", err)
	}
}

func TestTakeUnwraps(t *testing.T) {
	cases := map[string]string{
		"PREPARE q(int, date) AS SELECT * FROM claims WHERE id = $1 AND date_of_service > $2": "PREPARE",
		"EXPLAIN (ANALYZE) SELECT * FROM claims WHERE id = $1":                                "EXPLAIN",
		"DECLARE c1 CURSOR WITH HOLD FOR SELECT * FROM claims WHERE status = $1":              "DECLARE CURSOR",
		"COPY (SELECT id FROM claims WHERE status = 'x') TO STDOUT":                           "COPY",
		"CREATE TABLE x AS SELECT id FROM claims WHERE status = $1":                           "CREATE TABLE AS",
		"SELECT id INTO TEMP x FROM claims WHERE status = $1":                                 "SELECT INTO",
	}
	for text, wrapper := range cases {
		in, err := Take(text)
		if err != nil {
			t.Errorf("Take(%q): %v", text, err)
			continue
		}
		if in.Wrapper != wrapper || !strings.HasPrefix(strings.ToUpper(in.Text), "SELECT") || in.Params != 1 && in.Params != 2 {
			t.Errorf("Take(%q) = wrapper %q text %q params %d", text, in.Wrapper, in.Text, in.Params)
		}
	}
	in, _ := Take("PREPARE q(int, date) AS SELECT * FROM claims WHERE id = $1 AND date_of_service > $2")
	if len(in.Declared) != 2 || in.Declared[0] != "int4" || in.Declared[1] != "date" {
		t.Errorf("declared types %v", in.Declared)
	}
}

func TestRedactNearQuotes(t *testing.T) {
	for _, msg := range []string{`syntax error at or near "'a"MRN-4417'"`, `syntax error at or near "'MRN-4417'" at character 40`} {
		if got := RedactNear(msg); strings.Contains(got, "MRN") || !strings.Contains(got, "at or near a token") {
			t.Errorf("RedactNear(%q) = %q", msg, got)
		}
	}
}
