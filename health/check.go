// Package health holds pgmedic's health checks, declared as data: each check is one
// entry with its id, area, title, default severity, thresholds (overridable from the
// configuration), the snapshot parts it needs, references, and the function that
// decides it from a snapshot. Checks never touch the database; a check whose parts
// could not be collected reports "unknown" rather than passing.
package health

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/internal/ident"
	"github.com/pgmedic/pgmedic/snapshot"
)

// Threshold is a tunable number of a check.
type Threshold struct {
	Name    string
	Default float64
	Unit    string
	Help    string
	// FromConfig, when set, takes the default from the profile (the seed's alert
	// thresholds), so one setting drives both monitoring and checks.
	FromConfig func(*config.Profile) float64
}

// Check is one declared health check.
type Check struct {
	ID          string
	Area        string
	Title       string
	Description string
	Severity    finding.Severity
	MinVersion  int      // minimum PostgreSQL major version, 0 = any
	Needs       []string // snapshot parts it reads
	Thresholds  []Threshold
	References  []finding.Reference
	Run         func(*Context) []finding.Finding
}

// Options configure a run.
type Options struct {
	Config *config.Profile
	// Baseline is an earlier snapshot of the same database (growth checks).
	Baseline *snapshot.Snapshot
	// Classifier marks PHI and core healthcare tables; nil means name-based defaults.
	Classifier *healthcare.Classifier
	// Now is the analysis time; default the snapshot's collection time.
	Now time.Time
	// OtherChecks are other analyzers' rules that configuration entries may name.
	OtherChecks []Known
}

// Context is what a check sees.
type Context struct {
	Snap     *snapshot.Snapshot
	Baseline *snapshot.Snapshot
	Config   *config.Profile
	Now      time.Time

	check      *Check
	thresholds map[string]float64
	severity   *finding.Severity
	tables     map[string]healthcare.TableClass
}

// T returns the effective value of the current check's threshold.
func (c *Context) T(name string) float64 {
	v, ok := c.thresholds[name]
	if !ok {
		panic(fmt.Sprintf("health: check %s has no threshold %q", c.check.ID, name)) // a programming error in a check
	}
	return v
}

// Class returns the healthcare classification of a table.
func (c *Context) Class(schema, table string) healthcare.TableClass {
	return c.tables[schema+"."+table]
}

// New builds a finding of the current check.
func (c *Context) New(object, title string) *finding.Finding {
	sev := c.check.Severity
	if c.severity != nil {
		sev = *c.severity
	}
	return &finding.Finding{
		ID:         finding.MakeID(c.check.ID, object),
		Check:      c.check.ID,
		Area:       c.check.Area,
		Severity:   sev,
		Status:     finding.Open,
		Object:     object,
		Title:      title,
		References: c.check.References,
	}
}

// OnTable builds a finding about a table: PHI tables are marked, and the severity of
// findings on core patient and claims tables is raised one step.
func (c *Context) OnTable(schema, table, title string) *finding.Finding {
	f := c.New(schema+"."+table, title)
	cl := c.Class(schema, table)
	f.PHI = cl.PHI
	if cl.Priority >= 2 && c.severity == nil {
		f.Severity = f.Severity.Raise(1)
	}
	return f
}

// Unknown builds the finding of a check that could not decide.
func (c *Context) Unknown(object, why string) finding.Finding {
	f := c.New(object, c.check.Title+": could not decide")
	f.Status = finding.Unknown
	f.Severity = finding.Info
	f.Detail = why
	return *f
}

// Checks returns every check, in a stable order. It builds the list on each call so
// no caller can change another's.
func Checks() []Check {
	var all []Check
	all = append(all, sessionChecks()...)
	all = append(all, schemaChecks()...)
	all = append(all, indexChecks()...)
	all = append(all, maintenanceChecks()...)
	all = append(all, storageChecks()...)
	all = append(all, replicationChecks()...)
	all = append(all, statementChecks()...)
	all = append(all, settingChecks()...)
	all = append(all, backupChecks()...)
	all = append(all, partitioningChecks()...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// OverrideError is a configuration entry that names an unknown check or threshold.
type OverrideError struct{ Msg, Hint string }

func (e *OverrideError) Error() string { return e.Msg }

// Run runs every enabled check on s and returns the findings, sorted.
func Run(s *snapshot.Snapshot, opts Options) ([]finding.Finding, error) {
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Defaults(config.Production); err != nil {
			return nil, err
		}
	}
	checks := Checks()
	known := append([]Known(nil), opts.OtherChecks...)
	for _, c := range checks {
		known = append(known, Known{ID: c.ID, Thresholds: c.Thresholds})
	}
	ov, err := ParseOverrides(cfg.Checks, known)
	if err != nil {
		return nil, err
	}
	cls := opts.Classifier
	if cls == nil {
		if cls, err = healthcare.New(cfg.Healthcare); err != nil {
			return nil, err
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = s.CollectedAt
	}
	tables := classifyTables(s, cls)
	var out []finding.Finding
	for i := range checks {
		ch := &checks[i]
		if ov.Disabled(ch.ID) {
			continue
		}
		ctx := &Context{Snap: s, Baseline: opts.Baseline, Config: cfg, Now: now, check: ch, tables: tables,
			thresholds: map[string]float64{}}
		for _, t := range ch.Thresholds {
			ctx.thresholds[t.Name] = ov.Threshold(cfg, ch.ID, t)
		}
		if sev, ok := ov.Severity(ch.ID); ok {
			ctx.severity = &sev
		}
		if ch.MinVersion > 0 && s.Server.Major() < ch.MinVersion {
			continue
		}
		missing := ""
		for _, part := range ch.Needs {
			if ok, why := s.Known(part); !ok {
				missing = fmt.Sprintf("the %s part of the snapshot is unknown: %s", part, why)
				break
			}
		}
		if missing != "" {
			out = append(out, ctx.Unknown("", missing))
			continue
		}
		out = append(out, ch.Run(ctx)...)
	}
	finding.Sort(out)
	return out, nil
}

// Overrides are the configuration's changes to checks: disabled ids, thresholds and
// severities, validated against the checks that exist (health's and other analyzers').
type Overrides struct {
	disabled   map[string]bool
	thresholds map[string]float64
	severity   map[string]finding.Severity
}

// Disabled reports whether the check is switched off.
func (o *Overrides) Disabled(id string) bool { return o.disabled[id] }

// Threshold returns a check's threshold: the override, else the threshold's default
// (from the profile when it has one).
func (o *Overrides) Threshold(cfg *config.Profile, id string, t Threshold) float64 {
	if v, ok := o.thresholds[id+"."+t.Name]; ok {
		return v
	}
	if t.FromConfig != nil && cfg != nil {
		return t.FromConfig(cfg)
	}
	return t.Default
}

// Severity returns the overridden severity of a check, if any.
func (o *Overrides) Severity(id string) (finding.Severity, bool) {
	s, ok := o.severity[id]
	return s, ok
}

// Known is a check that overrides may name: health's own, or another analyzer's rule.
type Known struct {
	ID         string
	Thresholds []Threshold
}

// ParseOverrides validates the configuration's check entries against the known checks.
func ParseOverrides(cc config.Checks, known []Known) (*Overrides, error) {
	ov := &Overrides{disabled: map[string]bool{}, thresholds: map[string]float64{}, severity: map[string]finding.Severity{}}
	ids := map[string]*Known{}
	for i := range known {
		ids[known[i].ID] = &known[i]
	}
	unknownCheck := func(entry, id string) error {
		return &OverrideError{Msg: fmt.Sprintf("checks: %q names no check %q", entry, id),
			Hint: "run 'pgmedic checks' for the list of check ids"}
	}
	for _, id := range cc.Disabled {
		id = strings.TrimSpace(id)
		if ids[id] == nil {
			return nil, unknownCheck(id, id)
		}
		ov.disabled[id] = true
	}
	for _, e := range cc.Thresholds {
		key, val, _ := strings.Cut(e, "=")
		key = strings.TrimSpace(key)
		dot := strings.LastIndexByte(key, '.')
		if dot < 0 {
			return nil, &OverrideError{Msg: fmt.Sprintf("checks.thresholds: %q must look like check.id.threshold=value", e)}
		}
		id, name := key[:dot], key[dot+1:]
		ch := ids[id]
		if ch == nil {
			return nil, unknownCheck(e, id)
		}
		var names []string
		found := false
		for _, t := range ch.Thresholds {
			names = append(names, t.Name)
			found = found || t.Name == name
		}
		if !found {
			return nil, &OverrideError{Msg: fmt.Sprintf("checks.thresholds: check %s has no threshold %q (it has: %s)", id, name, strings.Join(names, ", "))}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(v) {
			return nil, &OverrideError{Msg: fmt.Sprintf("checks.thresholds: %q is not a number", e)}
		}
		ov.thresholds[key] = v
	}
	for _, e := range cc.Severity {
		id, sev, _ := strings.Cut(e, "=")
		id = strings.TrimSpace(id)
		if ids[id] == nil {
			return nil, unknownCheck(e, id)
		}
		s, err := finding.ParseSeverity(sev)
		if err != nil {
			return nil, &OverrideError{Msg: fmt.Sprintf("checks.severity: %q: %v", e, err)}
		}
		ov.severity[id] = s
	}
	return ov, nil
}

func classifyTables(s *snapshot.Snapshot, cls *healthcare.Classifier) map[string]healthcare.TableClass {
	refs := map[string][]string{}
	for _, k := range s.Constraints {
		if k.Type == "foreign" {
			key := k.Schema + "." + k.Table
			refs[key] = append(refs[key], k.RefSchema+"."+k.RefTable)
		}
	}
	out := make(map[string]healthcare.TableClass, len(s.Tables))
	for _, t := range s.Tables {
		in := healthcare.TableInput{Schema: t.Schema, Name: t.Name, References: refs[t.QualifiedName()]}
		for _, c := range t.Columns {
			in.Columns = append(in.Columns, healthcare.ColumnInput{Name: c.Name, Type: c.Type})
		}
		out[t.QualifiedName()] = cls.Table(in)
	}
	return out
}

// Info describes a check for listings (`pgmedic checks`, SARIF rules).
type Info struct {
	ID          string
	Area        string
	Title       string
	Description string
	Severity    finding.Severity
	Thresholds  []Threshold
	References  []finding.Reference
}

// List returns the checks' descriptions with thresholds resolved against cfg.
func List(cfg *config.Profile) []Info {
	var out []Info
	for _, c := range Checks() {
		ts := slices.Clone(c.Thresholds)
		for i := range ts {
			if ts[i].FromConfig != nil && cfg != nil {
				ts[i].Default = ts[i].FromConfig(cfg)
			}
		}
		out = append(out, Info{ID: c.ID, Area: c.Area, Title: c.Title, Description: c.Description,
			Severity: c.Severity, Thresholds: ts, References: c.References})
	}
	return out
}

// Formatting helpers for details.

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func bytesHuman(b int64) string { return finding.HumanBytes(b) }

func durHuman(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	return d.String()
}

func quoteIdent(parts ...string) string { return ident.Quote(parts...) }

func quoteLiteral(s string) string { return ident.Literal(s) }

func ev(name string, v float64, unit string) finding.Evidence {
	return finding.Evidence{Name: name, Value: v, Unit: unit}
}
