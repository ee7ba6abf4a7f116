package healthcare

import (
	"fmt"
	"sort"
	"strings"
)

// Categories of a column verdict beyond the identifiers: free text that quotes
// identifiers, and no PHI at all. Identifiers are named by Identifier.String().
const (
	CategoryFreeText = "free_text_identifiers"
	CategoryNone     = "none"
)

// PHIThreshold is the confidence from which a column counts as PHI. Below it a verdict
// still names its best guess, as a hint.
const PHIThreshold = 0.5

// Evidence thresholds for sampled values.
const (
	minSampleForValues = 5    // fewer non-empty values say nothing
	wholeShare         = 0.6  // share of values of one kind for the column to be that kind
	strongShare        = 0.9  // share that overrides a name saying something else
	codeDistinctRatio  = 0.01 // below it, a column of many rows holds codes, not identifiers
	minEmbedded        = 2    // free-text values quoting an identifier
	narrativeShare     = 0.5  // share of long prose values that makes a column notes
)

// ColumnEvidence is everything known about one column.
type ColumnEvidence struct {
	Schema, Table, Column, Type string
	// Names are the classifier's matches for the column (configuration applied).
	Names []Match
	// Forced and Excluded come from the configuration (phiColumns, notPHI): they win.
	Forced, Excluded bool
	// Values is the scan of sampled values; nil when the column was not sampled.
	Values *ValueScan
	// NotSampled says why Values is nil ("no SELECT privilege", "binary type").
	NotSampled string
	// References is the column this one points at with a single-column foreign key
	// ("ehr.pt.pt_no"), and Referenced its verdict.
	References string
	Referenced *Verdict
	// Unique: a single-column unique index or primary key.
	Unique bool
	// Table is the table's classification; its role decides whether the identifiers of
	// its rows are patients' (PHI) or providers' and payers' (not PHI).
	Class TableClass
}

// Verdict is the classification of one column.
type Verdict struct {
	Category   string   `json:"category"`
	Confidence float64  `json:"confidence"`
	Evidence   []string `json:"evidence"`
	// Identifier is the Safe Harbor identifier (or HealthInfo); 0 for free text and none.
	Identifier Identifier `json:"-"`
}

// PHI reports whether the verdict makes the column PHI.
func (v Verdict) PHI() bool {
	return v.Category != CategoryNone && v.Confidence >= PHIThreshold
}

// nonPatientRoles hold identifiers of providers, payers and code sets, not of patients.
var nonPatientRoles = map[Role]bool{Provider: true, Payer: true, Reference: true}

// contactIdentifiers are identifiers a provider or payer row has of its own.
var contactIdentifiers = map[Identifier]bool{Name: true, Geographic: true, Phone: true,
	Fax: true, Email: true, URL: true, CertificateLicense: true, OtherUniqueID: true}

// Judge combines the three signals (name, values, structure) into one verdict. Sampled
// values are only ever counted: no value reaches the verdict.
func Judge(e ColumnEvidence) Verdict {
	if e.Forced {
		id := OtherUniqueID // Names always has the configured match first; this is a fallback
		if len(e.Names) > 0 {
			id = e.Names[0].Identifier
		}
		return Verdict{Category: id.String(), Identifier: id, Confidence: 1, Evidence: []string{"configuration: healthcare.phiColumns"}}
	}
	if e.Excluded {
		return Verdict{Category: CategoryNone, Confidence: 1, Evidence: []string{"configuration: healthcare.notPHI"}}
	}
	cands := map[Identifier]*cand{}
	get := func(id Identifier) *cand {
		if cands[id] == nil {
			cands[id] = &cand{id: id}
		}
		return cands[id]
	}
	for _, m := range e.Names {
		c := get(m.Identifier)
		c.name = max(c.name, m.Confidence)
		c.ev = appendOnce(c.ev, "name")
	}
	var notes []string
	free := e.judgeValues(get, &notes)
	if e.Referenced != nil && e.Referenced.PHI() && e.Referenced.Identifier.IsIdentifier() && e.Referenced.Identifier != Name {
		c := get(e.Referenced.Identifier)
		c.structure = 0.9
		c.ev = append(c.ev, "fk -> "+e.References)
	}
	if e.Unique {
		// A unique column strengthens the case for a record or member number.
		for _, id := range []Identifier{MRN, HealthPlanID, AccountNumber, SSN, OtherUniqueID} {
			if c := cands[id]; c != nil {
				c.structure = max(c.structure, 0.3)
				c.ev = append(c.ev, "structure: unique")
			}
		}
	}
	v := pick(cands)
	if free != nil && (v.Category == CategoryNone || v.Confidence < free.Confidence) {
		v = *free
	}
	v.Evidence = append(v.Evidence, notes...)
	return e.inContext(v)
}

// cand is one identifier a column may hold, with the strength of each signal.
type cand struct {
	id                     Identifier
	name, value, structure float64
	against                bool // sampled values contradict the name
	ev                     []string
}

func (c *cand) confidence() float64 {
	p := 1.0
	for _, s := range []float64{c.name, c.value, c.structure} {
		p *= 1 - s
	}
	conf := 1 - p
	if c.against && c.value == 0 && c.structure == 0 {
		conf *= 0.6
	}
	return conf
}

// judgeValues adds what the sampled values say; it returns a free-text verdict when the
// values are prose quoting identifiers.
func (e ColumnEvidence) judgeValues(get func(Identifier) *cand, notes *[]string) *Verdict {
	s := e.Values
	if s == nil {
		if e.NotSampled != "" {
			*notes = append(*notes, "values not sampled: "+e.NotSampled)
		}
		return nil
	}
	if s.NonEmpty < minSampleForValues {
		*notes = append(*notes, fmt.Sprintf("values: %d non-empty sampled, too few to judge", s.NonEmpty))
		return nil
	}
	codes := s.NonEmpty >= 100 && s.DistinctRatio() < codeDistinctRatio
	if k, share := s.Dominant(wholeShare); k != "" && !codes {
		if id, ok := e.kindMeans(k); ok {
			c := get(id)
			c.value = valueConfidence(share)
			c.ev = append(c.ev, s.Describe(k))
			if tc := classifyType(e.Type); k == KindDate && (tc == tDate || tc == tTime) {
				// The type already says date; what makes it PHI is whose row it is.
				c.value = 0.6
				c.ev[len(c.ev)-1] = "structure: a date in a patient-linked table"
			}
		} else if k == KindNPI {
			*notes = append(*notes, s.Describe(k)+": provider identifiers, not patients'")
		}
	}
	if narrative := float64(s.Narrative) / float64(s.NonEmpty); narrative >= narrativeShare && s.DistinctRatio() >= 0.3 &&
		(e.Class.PatientLinked || e.Class.PHI) {
		// Notes about a patient are clinical narrative whatever the column is called.
		c := get(HealthInfo)
		c.value = 0.6
		c.ev = append(c.ev, fmt.Sprintf("values: %.0f%% narrative text in a patient-linked table", 100*narrative))
	}
	for _, m := range e.Names {
		if k, checkable := checkableKind(m.Identifier); checkable && s.NonEmpty >= 20 && s.Whole[k] == 0 && s.FreeText == 0 {
			c := get(m.Identifier)
			c.against = true
			c.ev = append(c.ev, fmt.Sprintf("values: none of %d sampled match %s", s.NonEmpty, k))
		}
	}
	return freeTextVerdict(s)
}

// valueConfidence grows with the share of matching values: 0.6 of them give 0.6, all 0.9.
func valueConfidence(share float64) float64 {
	return 0.6 + 0.75*(share-wholeShare)
}

// kindMeans maps a value kind to the identifier it is in this column: ZIP codes, record
// numbers and dates need the name to agree, since amounts, keys and record-keeping
// timestamps take the same shapes.
func (e ColumnEvidence) kindMeans(k ValueKind) (Identifier, bool) {
	named := func(ids ...Identifier) bool {
		for _, m := range e.Names {
			for _, id := range ids {
				if m.Identifier == id {
					return true
				}
			}
		}
		return false
	}
	switch k {
	case KindSSN:
		return SSN, true
	case KindMBI:
		return HealthPlanID, true
	case KindEmail:
		return Email, true
	case KindIP:
		return IPAddress, true
	case KindURL:
		return URL, true
	case KindPhone:
		if named(Fax) {
			return Fax, true
		}
		return Phone, true
	case KindZIP:
		return Geographic, named(Geographic)
	case KindMRN:
		for _, id := range []Identifier{MRN, HealthPlanID, AccountNumber, CertificateLicense, OtherUniqueID} {
			if named(id) {
				return id, true
			}
		}
	case KindDate:
		if named(Date) {
			return Date, true
		}
		toks := tokenize(e.Column)
		return Date, e.Class.PatientLinked && !hasAny(toks, bookkeepingWords...)
	}
	return 0, false
}

// checkableKind is the value kind a name promises, for the identifiers whose values a
// validator can recognise reliably.
func checkableKind(id Identifier) (ValueKind, bool) {
	switch id {
	case SSN:
		return KindSSN, true
	case Email:
		return KindEmail, true
	case IPAddress:
		return KindIP, true
	}
	return "", false
}

func freeTextVerdict(s *ValueScan) *Verdict {
	total := 0
	var kinds []string
	for k, n := range s.Embedded {
		total += n
		kinds = append(kinds, fmt.Sprintf("%s in %d", k, n))
	}
	if total < minEmbedded || s.FreeText == 0 {
		return nil
	}
	sort.Strings(kinds)
	return &Verdict{
		Category:   CategoryFreeText,
		Confidence: min(0.95, 0.6+0.05*float64(total)),
		Evidence:   []string{fmt.Sprintf("values: free text quoting identifiers (%s of %d sampled)", strings.Join(kinds, ", "), s.NonEmpty)},
	}
}

// pick returns the strongest candidate, or none.
func pick(cands map[Identifier]*cand) Verdict {
	var best *cand
	for _, c := range cands {
		if best == nil || c.confidence() > best.confidence() ||
			(c.confidence() == best.confidence() && c.id < best.id) {
			best = c
		}
	}
	if best == nil {
		return Verdict{Category: CategoryNone}
	}
	return Verdict{Category: best.id.String(), Identifier: best.id, Confidence: round2(best.confidence()), Evidence: best.ev}
}

// inContext applies the table's role: identifiers of providers and payers, and health
// information outside PHI tables, are not PHI.
func (e ColumnEvidence) inContext(v Verdict) Verdict {
	if v.Category == CategoryNone || v.Category == CategoryFreeText {
		return v
	}
	if nonPatientRoles[e.Class.Role] && contactIdentifiers[v.Identifier] {
		v.Evidence = append(v.Evidence, fmt.Sprintf("%s table: identifies %ss, not patients", e.Class.Role, e.Class.Role))
		v.Category, v.Identifier = CategoryNone, 0
		return v
	}
	if v.Confidence <= confWeak && !e.Class.PHI && !e.Class.PatientLinked {
		v.Evidence = append(v.Evidence, "weak evidence in a table linked to no patient")
		v.Category, v.Identifier = CategoryNone, 0
		return v
	}
	if v.Identifier == HealthInfo && !e.Class.PHI && !e.Class.PatientLinked {
		v.Evidence = append(v.Evidence, "clinical content in a table linked to no patient")
		v.Category, v.Identifier = CategoryNone, 0
	}
	return v
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
