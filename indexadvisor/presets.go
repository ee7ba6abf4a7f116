package indexadvisor

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/sqlparse"
	policy "github.com/pgmedic/pgmedic/pgconn"
	"github.com/pgmedic/pgmedic/snapshot"
	"github.com/pgmedic/pgmedic/workload"
)

// preset is a healthcare access path: a probe statement built from the live schema's
// columns. Probes add candidates; they are evaluated like any statement. When the
// workload has statements, probes weigh nothing, so an index is chosen only for what
// it does for the real workload; when it has none, the probes are the workload.
type preset struct {
	name string
	sql  string
}

var (
	datePattern     = regexp.MustCompile(`(?i)(service|dos\b|date_of_service|svc)`)
	receivedPattern = regexp.MustCompile(`(?i)(received|submitted|created|entered)`)
	schedPattern    = regexp.MustCompile(`(?i)(scheduled|start|appointment_(date|time)|slot)`)
	pendingPattern  = regexp.MustCompile(`(?i)^(pend|pending|pended|on_hold|queued)`)
)

func (a *Advisor) presetStatements(ctx context.Context, observed []*stmt, adv *Advice) []*stmt {
	weight := 0.0
	if len(observed) == 0 {
		weight = 1
	}
	var out []*stmt
	for _, p := range a.presets(ctx) {
		ws, err := a.single(ctx, p.sql, "preset")
		if err != nil {
			adv.Skipped = append(adv.Skipped, Skipped{Query: sqlparse.SafeText(p.sql, 200), Reason: "preset " + p.name + ": " + sqlparse.OneLine(err.Error())})
			continue
		}
		s := &stmt{ws: ws, parsed: ws.Parsed, weight: weight, calls: weight, preset: p.name}
		if vals := ws.Values(ctx, a.planner); workload.Complete(vals) {
			s.vals = vals
		}
		pl, err := a.plan(ctx, s)
		if err != nil {
			adv.Skipped = append(adv.Skipped, Skipped{Query: sqlparse.SafeText(p.sql, 200), Reason: "preset " + p.name + ": " + sqlparse.OneLine(err.Error())})
			continue
		}
		s.basePlan, s.base, s.cur = pl, pl.TotalCost(), pl.TotalCost()
		s.multi = multiRelation(s)
		out = append(out, s)
	}
	return out
}

// single prepares one statement of pgmedic's own making through the workload intake.
func (a *Advisor) single(ctx context.Context, sql, source string) (*workload.Statement, error) {
	stmts, _ := workload.Group([]workload.Input{{Text: sql, Source: source}}, a.parser)
	if len(stmts) != 1 {
		return nil, fmt.Errorf("indexadvisor: %d statements in one probe", len(stmts))
	}
	return stmts[0], stmts[0].Prepare(ctx, a.planner)
}

// presets matches the templates to the snapshot's tables by their columns' roles.
func (a *Advisor) presets(ctx context.Context) []preset {
	var out []preset
	for i := range a.snap.Tables {
		t := a.table(a.snap.Tables[i].QualifiedName())
		if t == nil || a.tooSmall(t) {
			continue
		}
		cls := a.classify(t)
		id := func(col string) string { return pgx.Identifier{col}.Sanitize() }
		table := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		patientCol := a.fkTo(t, healthcare.Patient, "patient_id", "member_id", "person_id")
		providerCol := a.fkTo(t, healthcare.Provider, "provider_id", "rendering_provider_id", "practitioner_id")
		switch cls.Role {
		case healthcare.Claim:
			date := findColumn(t, datePattern, "date")
			if patientCol != "" && date != "" {
				out = append(out, preset{"claims by patient and date", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1 ORDER BY %s DESC LIMIT 20", table, id(patientCol), id(date))})
			}
			if providerCol != "" && date != "" {
				out = append(out, preset{"claims by provider and date", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1 AND %s >= $2 AND %s < $3", table, id(providerCol), id(date), id(date))})
			}
			if q := a.queuePreset(ctx, t, "pended-claims work queue"); q != nil {
				out = append(out, *q)
			}
		case healthcare.Appointment, healthcare.Encounter:
			ts := findColumn(t, schedPattern, "timestamp")
			if ts == "" {
				ts = findColumn(t, schedPattern, "date")
			}
			if providerCol != "" && ts != "" {
				out = append(out, preset{"appointments by provider and time", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1 AND %s >= $2 AND %s < $3 ORDER BY %s", table, id(providerCol), id(ts), id(ts), id(ts))})
			}
			if patientCol != "" && ts != "" {
				out = append(out, preset{"a patient's appointments", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1 AND %s >= $2 ORDER BY %s LIMIT 10", table, id(patientCol), id(ts), id(ts))})
			}
		case healthcare.Patient:
			if mrn := columnWith(cls, healthcare.MRN); mrn != "" {
				out = append(out, preset{"patients by MRN", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1", table, id(mrn))})
			}
			last := namedColumn(t, cls, healthcare.Name, "last", "family", "surname")
			dob := namedColumn(t, cls, healthcare.Date, "birth", "dob")
			if last != "" && dob != "" {
				out = append(out, preset{"patients by name and birth date", fmt.Sprintf("SELECT * FROM %s WHERE lower(%s) = lower($1) AND %s = $2", table, id(last), id(dob))})
			}
		case healthcare.Payment:
			if q := a.queuePreset(ctx, t, "pending payments"); q != nil {
				out = append(out, *q)
			}
		case healthcare.User:
			if email := columnWith(cls, healthcare.Email); email != "" {
				out = append(out, preset{"login by e-mail", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1", table, id(email))})
			}
		case healthcare.Reference:
			for _, c := range t.Columns {
				if strings.Contains(strings.ToLower(c.Name), "code") {
					out = append(out, preset{"code lookup", fmt.Sprintf("SELECT * FROM %s WHERE %s = $1", table, id(c.Name))})
					break
				}
			}
		}
	}
	return out
}

// queuePreset finds a work queue: a status column whose common values include a
// pending-like state, ordered by when the row arrived.
func (a *Advisor) queuePreset(ctx context.Context, t *snapshot.Table, name string) *preset {
	arrival := findColumn(t, receivedPattern, "timestamp")
	if arrival == "" {
		return nil
	}
	for _, c := range t.Columns {
		if !strings.Contains(strings.ToLower(c.Name), "status") || !a.lowCardinality(t, c.Name) {
			continue
		}
		// Most common values of a low-cardinality status column are category names.
		var mcv []string
		err := a.planner.Conn().QueryRow(ctx, policy.Marker+`SELECT coalesce(most_common_vals::text::text[], '{}') FROM pg_stats
			WHERE schemaname = $1 AND tablename = $2 AND attname = $3 LIMIT 1`, t.Schema, t.Name, c.Name).Scan(&mcv)
		if err != nil {
			continue
		}
		for _, v := range mcv {
			if pendingPattern.MatchString(v) {
				return &preset{name, fmt.Sprintf("SELECT * FROM %s WHERE %s = %s ORDER BY %s LIMIT 50",
					pgx.Identifier{t.Schema, t.Name}.Sanitize(), pgx.Identifier{c.Name}.Sanitize(), quoteLiteral(v), pgx.Identifier{arrival}.Sanitize())}
			}
		}
	}
	return nil
}

func (a *Advisor) classify(t *snapshot.Table) healthcare.TableClass {
	in := healthcare.TableInput{Schema: t.Schema, Name: t.Name}
	for _, k := range a.snap.Constraints {
		if k.Type == "foreign" && k.Schema == t.Schema && k.Table == t.Name {
			in.References = append(in.References, k.RefSchema+"."+k.RefTable)
		}
	}
	for _, c := range t.Columns {
		in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
	}
	return a.cls.Table(in)
}

// fkTo finds the column of t that references a table of the given role (or has one of
// the conventional names).
func (a *Advisor) fkTo(t *snapshot.Table, role healthcare.Role, names ...string) string {
	for _, k := range a.snap.Constraints {
		if k.Type != "foreign" || k.Schema != t.Schema || k.Table != t.Name || len(k.Columns) != 1 {
			continue
		}
		if ref := a.table(k.RefSchema + "." + k.RefTable); ref != nil && a.classify(ref).Role == role {
			return k.Columns[0]
		}
	}
	for _, n := range names {
		if hasColumn(t, n) {
			return n
		}
	}
	return ""
}

func findColumn(t *snapshot.Table, re *regexp.Regexp, kind string) string {
	for _, c := range t.Columns {
		if !re.MatchString(c.Name) {
			continue
		}
		switch kind {
		case "date":
			if c.TypeName == "date" || strings.HasPrefix(c.TypeName, "timestamp") {
				return c.Name
			}
		case "timestamp":
			if strings.HasPrefix(c.TypeName, "timestamp") {
				return c.Name
			}
		}
	}
	return ""
}

func columnWith(cls healthcare.TableClass, id healthcare.Identifier) string {
	best, conf := "", 0.0
	for col, matches := range cls.Identifiers {
		for _, m := range matches {
			if m.Identifier == id && m.Confidence > conf {
				best, conf = col, m.Confidence
			}
		}
	}
	return best
}

func namedColumn(t *snapshot.Table, cls healthcare.TableClass, id healthcare.Identifier, words ...string) string {
	for _, c := range t.Columns {
		for _, m := range cls.Identifiers[c.Name] {
			if m.Identifier != id {
				continue
			}
			for _, w := range words {
				if strings.Contains(strings.ToLower(c.Name), w) {
					return c.Name
				}
			}
		}
	}
	return ""
}
