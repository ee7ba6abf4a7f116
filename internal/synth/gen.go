package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Options say what dataset to make.
type Options struct {
	// Scale 1.0 = 100,000 patients, 5,000 providers, 1,000,000 claims with their lines,
	// 500,000 appointments.
	Scale float64
	// Seed makes the dataset: the same seed, scale and anchor give the same rows.
	Seed uint64
	// Anchor is the dataset's "today": service dates run seven years back from it and
	// appointments 90 days ahead. Default: today (UTC).
	Anchor time.Time
}

// MaxScale bounds what one machine is asked to generate (about 500 million rows).
const MaxScale = 100

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if math.IsNaN(o.Scale) || o.Scale <= 0 {
		return fmt.Errorf("scale must be greater than 0 (1.0 = 100,000 patients and 1,000,000 claims), got %v", o.Scale)
	}
	if o.Scale > MaxScale {
		return fmt.Errorf("scale %v is larger than the maximum %d", o.Scale, MaxScale)
	}
	if o.Anchor.IsZero() {
		o.Anchor = time.Now().UTC()
	}
	o.Anchor = time.Date(o.Anchor.Year(), o.Anchor.Month(), o.Anchor.Day(), 0, 0, 0, 0, time.UTC)
	return nil
}

// Counts are the planned row counts of the tables whose size the scale sets directly;
// the others (claim_lines, payments, availabilities, users) follow from these.
type Counts struct {
	Payers, Plans, Providers, Patients, Claims, Appointments, AuditLogs, Staff int64
	ICD10, CPT, HCPCS                                                          int64
}

// PlannedCounts returns the sizes a scale gives.
func PlannedCounts(scale float64) Counts {
	n := func(base float64, min int64) int64 {
		v := int64(math.Round(base * scale))
		if v < min {
			return min
		}
		return v
	}
	c := Counts{
		Providers:    n(5000, 20),
		Patients:     n(100000, 200),
		Claims:       n(1000000, 1000),
		Appointments: n(500000, 500),
		AuditLogs:    n(500000, 500),
		Staff:        n(1000, 10),
		ICD10:        10000,
		CPT:          5000,
		HCPCS:        3000,
	}
	c.Payers = int64(len(payerSeeds))
	for _, p := range payerSeeds {
		c.Plans += int64(plansPerPayer(p.kind))
	}
	return c
}

func plansPerPayer(kind string) int {
	switch kind {
	case "commercial":
		return 5
	case "self_pay":
		return 0
	case "workers_comp":
		return 1
	default:
		return 2
	}
}

const admins = 5

// Generator makes rows. Every row is a function of (seed, table, id): any row can be
// made on its own, in any order, on any goroutine, which is what lets the loader split
// tables into chunks and still produce the same data every time.
type Generator struct {
	opts   Options
	counts Counts
	anchor int64 // day number of Options.Anchor

	payers    []payer
	plans     []plan
	planCDF   []float64 // patients' plans, by plan index
	selfPayID int64

	providerCDF  []float64
	patientCDF   []float64
	serviceCDF   []float64 // service days over seven years, index 0 = anchor-serviceDays
	serviceDays  int64
	firstCDF     [2][]float64 // female, male given names
	lastCDF      []float64
	icd          []codeRow
	icdCDF       []float64
	cpt          []codeRow
	cptCDF       []float64
	hcpcs        []codeRow
	hcpcsCDF     []float64
	specialtyCDF []float64
	provInfo     []provInfo
	patPlan      []int32 // plan id per patient (0 = self-pay)
	patPrimary   []int32 // primary provider per patient
}

type provInfo struct {
	active, noAppointments, institutional, dental bool
}

type payer struct {
	id               int64
	code, name, kind string
	state            string
	allowFactor      float64
}

type plan struct {
	id, payerID int64
	name, kind  string
	group       string
}

type codeRow struct {
	code, desc, category string
	rvu                  float64
}

// Table tags separate the random streams of different tables.
const (
	tagPatient uint64 = iota + 1
	tagProvider
	tagClaim
	tagAppointment
	tagAvailability
	tagUser
	tagAudit
	tagCode
	tagWeight
)

// NewGenerator prepares the lookup tables (weights, code lists) for opts.
func NewGenerator(opts Options) (*Generator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{opts: opts, counts: PlannedCounts(opts.Scale)}
	g.anchor = opts.Anchor.Unix() / 86400
	g.serviceDays = 7 * 365
	r := rand.New(rand.NewPCG(opts.Seed, tagWeight))

	// Payers and plans.
	for i, p := range payerSeeds {
		id := int64(i + 1)
		factor := 0.55
		switch p.kind {
		case "medicare":
			factor = 0.38
		case "medicaid":
			factor = 0.30
		case "tricare":
			factor = 0.42
		case "workers_comp":
			factor = 0.65
		case "self_pay":
			factor = 0.50
			g.selfPayID = id
		}
		g.payers = append(g.payers, payer{id: id, code: fmt.Sprintf("PY%03d", id), name: p.name, kind: p.kind, state: p.state, allowFactor: factor})
		for k := 0; k < plansPerPayer(p.kind); k++ {
			kind := planKinds[k%len(planKinds)]
			switch p.kind {
			case "medicare":
				kind = []string{"MEDICARE_ADVANTAGE", "PPO"}[k]
			case "medicaid":
				kind = []string{"MEDICAID_MCO", "HMO"}[k]
			}
			g.plans = append(g.plans, plan{id: int64(len(g.plans) + 1), payerID: id, kind: kind,
				name: fmt.Sprintf("%s %s %d", p.name, kind, k+1), group: fmt.Sprintf("GRP%05d", r.IntN(100000))})
		}
	}
	// Patients favour the big plans: commercial PPOs and Medicare.
	planW := make([]float64, len(g.plans))
	for i, p := range g.plans {
		planW[i] = 0.3 + r.Float64()*1.7
		if g.payers[p.payerID-1].kind == "medicare" {
			planW[i] *= 2.5
		}
	}
	g.planCDF = cdf(planW)

	// Provider volumes: specialty volume times a heavy-tailed personal factor, so a few
	// providers bill a large share of claims (as in real claims data).
	specW := make([]float64, len(specialties))
	for i, s := range specialties {
		specW[i] = s.volume
	}
	g.specialtyCDF = cdf(specW)
	provW := make([]float64, g.counts.Providers)
	g.provInfo = make([]provInfo, g.counts.Providers)
	pr := newRowRand(opts.Seed)
	for i := range provW {
		p := g.provider(pr, int64(i+1))
		provW[i] = p.volume
		g.provInfo[i] = provInfo{active: p.active, noAppointments: p.noAppointments, institutional: p.institutional, dental: p.dental}
	}
	g.providerCDF = cdf(provW)

	// Patients: most have a few claims, chronic and heavy utilisers many, some none.
	patW := make([]float64, g.counts.Patients)
	for i := range patW {
		u := hashUnit(opts.Seed, tagWeight, uint64(i+1))
		switch {
		case u < 0.04:
			patW[i] = 14
		case u < 0.25:
			patW[i] = 3.5
		case u < 0.85:
			patW[i] = 1
		case u < 0.95:
			patW[i] = 0.25
		default:
			patW[i] = 0
		}
	}
	g.patientCDF = cdf(patW)

	// Service days: 8 % growth a year, winter peaks, quiet weekends.
	season := [12]float64{1.15, 1.12, 1.05, 1.0, 0.97, 0.93, 0.88, 0.92, 1.0, 1.05, 1.02, 0.9}
	dayW := make([]float64, g.serviceDays)
	for i := range dayW {
		day := g.anchor - g.serviceDays + int64(i)
		_, m, _ := civil(day)
		yearsAgo := float64(g.serviceDays-int64(i)) / 365
		w := math.Pow(1.08, -yearsAgo) * season[m-1]
		switch weekday(day) {
		case 0:
			w *= 0.12
		case 6:
			w *= 0.25
		}
		dayW[i] = w
	}
	g.serviceCDF = cdf(dayW)

	g.firstCDF[0] = zipfCDF(len(femaleNames), 0.9)
	g.firstCDF[1] = zipfCDF(len(maleNames), 0.9)
	g.lastCDF = zipfCDF(len(lastNames), 0.8)

	// What claims and appointments need to know about each patient, kept compact so
	// they need not regenerate the patient row for every claim.
	g.patPlan = make([]int32, g.counts.Patients)
	g.patPrimary = make([]int32, g.counts.Patients)
	for i := range g.patPlan {
		p := g.patient(pr, int64(i+1))
		g.patPlan[i] = int32(p.planID)
		g.patPrimary[i] = int32(p.primaryProvider)
	}

	g.icd = makeICD(opts.Seed, int(g.counts.ICD10))
	g.icdCDF = zipfCDF(len(g.icd), 1.05)
	g.cpt = makeCPT(opts.Seed, int(g.counts.CPT))
	g.cptCDF = zipfCDF(len(g.cpt), 1.1)
	g.hcpcs = makeHCPCS(opts.Seed, int(g.counts.HCPCS))
	g.hcpcsCDF = zipfCDF(len(g.hcpcs), 1.1)
	return g, nil
}

// Counts returns the planned counts.
func (g *Generator) Counts() Counts { return g.counts }

// rowRand is a random stream that can be repositioned to any (table, id) cheaply.
type rowRand struct {
	*rand.Rand
	src  *rand.PCG
	seed uint64
}

func newRowRand(seed uint64) *rowRand {
	src := rand.NewPCG(0, 0)
	return &rowRand{Rand: rand.New(src), src: src, seed: seed}
}

func (r *rowRand) at(tag uint64, id int64) *rowRand {
	r.src.Seed(r.seed^(tag*0x9E3779B97F4A7C15), uint64(id)*0xBF58476D1CE4E5B9+tag)
	return r
}

// pick draws an index from a cumulative weight table.
func (r *rowRand) pick(c []float64) int {
	x := r.Float64() * c[len(c)-1]
	i := sort.SearchFloat64s(c, x)
	if i >= len(c) {
		i = len(c) - 1
	}
	// Skip zero-weight entries that share the cumulative value of their predecessor.
	for i < len(c)-1 && (i == 0 && c[0] == 0 || i > 0 && c[i] == c[i-1]) {
		i++
	}
	return i
}

func (r *rowRand) chance(p float64) bool { return r.Float64() < p }

func (r *rowRand) between(lo, hi int64) int64 { return lo + r.Int64N(hi-lo+1) }

// weighted picks index i with probability w[i]/sum(w) (small lists only).
func (r *rowRand) weighted(w ...float64) int {
	total := 0.0
	for _, v := range w {
		total += v
	}
	x := r.Float64() * total
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

func cdf(w []float64) []float64 {
	out := make([]float64, len(w))
	sum := 0.0
	for i, v := range w {
		sum += v
		out[i] = sum
	}
	return out
}

func zipfCDF(n int, s float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s)
	}
	return cdf(w)
}

// hashUnit maps (seed, tag, id) to [0,1) without a stream (splitmix64).
func hashUnit(seed, tag, id uint64) float64 {
	z := seed ^ (tag * 0x9E3779B97F4A7C15) ^ (id * 0xD1B54A32D192ED03)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// permute maps id in [0, mod) to a distinct value in [0, mod): a multiplier coprime
// with mod is a bijection, so MRNs and NPIs are unique without looking like sequences.
func permute(id, mult, add, mod int64) int64 {
	return (id*mult + add) % mod
}

func makeICD(seed uint64, n int) []codeRow {
	out := make([]codeRow, 0, n)
	seen := map[string]bool{}
	for _, c := range icd10Common {
		out = append(out, codeRow{code: c[0], desc: c[1], category: chapterOf(c[0])})
		seen[c[0]] = true
	}
	r := newRowRand(seed).at(tagCode, 1)
	const letters = "ABCDEFGHIJKLMNORSTZ"
	for len(out) < n {
		code := fmt.Sprintf("%c%02d.%d", letters[r.IntN(len(letters))], r.IntN(100), r.IntN(10))
		if r.chance(0.4) {
			code += fmt.Sprint(r.IntN(10))
		}
		if seen[code] {
			continue
		}
		seen[code] = true
		out = append(out, codeRow{code: code, desc: "Synthetic diagnosis " + code, category: chapterOf(code)})
	}
	return out
}

func chapterOf(code string) string {
	for _, ch := range icd10Chapters {
		for i := 0; i < len(ch.letters); i++ {
			if code[0] == ch.letters[i] {
				return ch.chapter
			}
		}
	}
	return "Other"
}

func makeCPT(seed uint64, n int) []codeRow {
	out := make([]codeRow, 0, n)
	seen := map[string]bool{}
	for _, c := range cptCommon {
		out = append(out, codeRow{code: c.code, desc: c.desc, category: c.category, rvu: c.rvu})
		seen[c.code] = true
	}
	r := newRowRand(seed).at(tagCode, 2)
	cats := []string{"E/M", "Lab", "Radiology", "Surgery", "Medicine", "PT"}
	for len(out) < n {
		code := fmt.Sprintf("%05d", 10000+r.IntN(89999))
		if seen[code] {
			continue
		}
		seen[code] = true
		out = append(out, codeRow{code: code, desc: "Synthetic procedure " + code, category: cats[r.IntN(len(cats))],
			rvu: math.Round((0.2+r.ExpFloat64()*3)*100) / 100})
	}
	return out
}

func makeHCPCS(seed uint64, n int) []codeRow {
	out := make([]codeRow, 0, n)
	seen := map[string]bool{}
	for _, c := range hcpcsCommon {
		out = append(out, codeRow{code: c[0], desc: c[1], category: c[2], rvu: 0.8})
		seen[c[0]] = true
	}
	r := newRowRand(seed).at(tagCode, 3)
	for len(out) < n {
		p := hcpcsPrefixes[r.IntN(len(hcpcsPrefixes))]
		code := fmt.Sprintf("%s%04d", p.letter, r.IntN(10000))
		if seen[code] {
			continue
		}
		seen[code] = true
		out = append(out, codeRow{code: code, desc: "Synthetic supply or service " + code, category: p.category,
			rvu: math.Round((0.1+r.ExpFloat64()*1.5)*100) / 100})
	}
	return out
}

// errStop ends a generation loop early (context cancelled).
var errStop = errors.New("synth: stopped")
