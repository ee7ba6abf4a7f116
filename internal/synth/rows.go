package synth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

const secondsPerDay = 86400

// ---- providers ----

type providerRow struct {
	id                    int64
	npi                   string
	first, last, org      string
	specialty             int
	network               string
	state                 string
	active, accepting     bool
	created               int64
	volume                float64
	noAppointments        bool // labs, radiology and hospitals take no appointments
	institutional, dental bool
}

func (g *Generator) provider(r *rowRand, id int64) providerRow {
	r.at(tagProvider, id)
	p := providerRow{id: id}
	p.specialty = r.pick(g.specialtyCDF)
	spec := specialties[p.specialty]
	switch spec.name {
	case "Clinical Laboratory", "Radiology", "Hospital", "Urgent Care":
		p.org = fmt.Sprintf("%s %s", lastNames[r.IntN(len(lastNames))], map[string]string{
			"Clinical Laboratory": "Diagnostics", "Radiology": "Imaging Center",
			"Hospital": "Regional Medical Center", "Urgent Care": "Urgent Care"}[spec.name])
		p.noAppointments = spec.name != "Urgent Care"
		p.institutional = spec.name == "Hospital"
	default:
		if r.chance(0.5) {
			p.first = femaleNames[r.IntN(len(femaleNames))]
		} else {
			p.first = maleNames[r.IntN(len(maleNames))]
		}
		p.last = lastNames[r.IntN(len(lastNames))]
		p.dental = spec.name == "Dentistry"
	}
	// NPI: 9 digits starting with 1, unique by construction, plus the Luhn check digit
	// computed with the 80840 prefix as the standard prescribes.
	base := "1" + fmt.Sprintf("%08d", permute(id, 7919, 4242, 100000000))
	p.npi = base + strconv.Itoa(npiCheckDigit(base))
	p.network = []string{"in_network", "out_of_network", "tiered"}[r.weighted(0.78, 0.12, 0.10)]
	p.state = cities[r.IntN(len(cities))].state
	p.active = r.chance(0.92)
	p.accepting = p.active && r.chance(0.75)
	p.created = (g.anchor-r.between(30, 12*365))*secondsPerDay + r.between(0, secondsPerDay-1)
	// Heavy tail: lognormal personal factor times the specialty's volume.
	p.volume = spec.volume * math.Exp(r.NormFloat64()*0.9)
	if !p.active {
		p.volume *= 0.15
	}
	return p
}

func npiCheckDigit(base string) int {
	sum := 24 // the 80840 prefix contributes 24 to the Luhn sum
	for i := 0; i < len(base); i++ {
		d := int(base[len(base)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

func (g *Generator) writeProvider(w *rowWriter, p providerRow) {
	w.int(p.id)
	w.str(p.npi)
	w.strOrNull(p.first)
	w.strOrNull(p.last)
	w.strOrNull(p.org)
	w.str(specialties[p.specialty].name)
	w.str(specialties[p.specialty].taxonomy)
	w.str(p.network)
	w.str(p.state)
	w.boolean(p.active)
	w.boolean(p.accepting)
	w.timestamp(p.created)
	w.end()
}

// ---- patients ----

type patientRow struct {
	id                 int64
	mrn                string
	first, last        string
	dob                int64
	sex                byte
	ssn                string
	address, city      string
	state, zip         string
	phone, email       string
	memberID           string
	planID             int64 // 0 = uninsured (self-pay)
	primaryProvider    int64
	created, updated   int64
	portalUser         bool
	portalEmailVariant int
}

func (g *Generator) patient(r *rowRand, id int64) patientRow {
	r.at(tagPatient, id)
	p := patientRow{id: id}
	p.mrn = fmt.Sprintf("MRN%08d", permute(id, 7907, 31337, 100000000))
	female := r.chance(0.51)
	switch {
	case female:
		p.sex = 'F'
		p.first = femaleNames[r.pick(g.firstCDF[0])]
	default:
		p.sex = 'M'
		p.first = maleNames[r.pick(g.firstCDF[1])]
	}
	if r.chance(0.003) {
		p.sex = 'X'
	}
	p.last = lastNames[r.pick(g.lastCDF)]
	// Ages: a broad adult population with children and a Medicare-age tail.
	age := int64(0)
	switch r.weighted(0.22, 0.50, 0.28) {
	case 0:
		age = r.between(0, 17)
	case 1:
		age = r.between(18, 64)
	default:
		age = r.between(65, 98)
	}
	p.dob = g.anchor - age*365 - r.between(0, 364)
	p.ssn = fmt.Sprintf("9%02d-%02d-%04d", r.IntN(100), 1+r.IntN(99), 1+r.IntN(9999))
	if r.chance(0.06) {
		p.ssn = "" // not everyone gives one
	}
	c := cities[r.IntN(len(cities))]
	p.address = fmt.Sprintf("%d %s %s", 100+r.IntN(9800), streetNames[r.IntN(len(streetNames))], streetKinds[r.IntN(len(streetKinds))])
	if r.chance(0.15) {
		p.address += fmt.Sprintf(" Apt %d", 1+r.IntN(40))
	}
	p.city, p.state = c.name, c.state
	p.zip = fmt.Sprintf("%s%02d", c.zip3, r.IntN(100))
	p.phone = fmt.Sprintf("(%d) 555-01%02d", 201+r.IntN(780), r.IntN(100))
	p.portalUser = r.chance(0.45)
	p.portalEmailVariant = r.IntN(1000)
	p.email = fmt.Sprintf("%s.%s.%d@example.org", strings.ToLower(p.first), strings.ToLower(p.last), id)
	if r.chance(0.12) {
		p.email = ""
	}
	if age >= 65 && r.chance(0.7) {
		// Medicare-age patients mostly sit on the Medicare plans (the first plans).
		p.planID = g.plans[r.IntN(2)].id
	} else if !r.chance(0.05) {
		p.planID = g.plans[r.pick(g.planCDF)].id
	}
	if p.planID != 0 {
		p.memberID = fmt.Sprintf("%s%09d", g.payers[g.plans[p.planID-1].payerID-1].code, permute(id, 104729, 77, 1000000000))
	}
	p.primaryProvider = int64(r.pick(g.providerCDF)) + 1
	p.created = (g.anchor-r.between(1, 10*365))*secondsPerDay + r.between(0, secondsPerDay-1)
	p.updated = p.created + r.between(0, (g.anchor*secondsPerDay-p.created)/secondsPerDay)*secondsPerDay
	if p.email == "" {
		p.portalUser = false // the portal needs an e-mail address to log in
	}
	return p
}

func (g *Generator) writePatient(w *rowWriter, p patientRow) {
	w.int(p.id)
	w.str(p.mrn)
	w.str(p.first)
	w.str(p.last)
	w.date(p.dob)
	w.str(string(p.sex))
	w.strOrNull(p.ssn)
	w.str(p.address)
	w.str(p.city)
	w.str(p.state)
	w.str(p.zip)
	w.str(p.phone)
	w.strOrNull(p.email)
	w.strOrNull(p.memberID)
	if p.planID == 0 {
		w.null()
	} else {
		w.int(p.planID)
	}
	w.int(p.primaryProvider)
	w.timestamp(p.created)
	w.timestamp(p.updated)
	w.end()
}

// ---- claims, claim lines and payments ----

// claimOut receives one claim's rows.
type claimOut struct {
	claims, lines, payments *rowWriter
}

// claim writes claim id with its lines and payment.
func (g *Generator) claim(r *rowRand, id int64, out claimOut) {
	r.at(tagClaim, id)
	patientID := int64(r.pick(g.patientCDF)) + 1
	providerID := int64(g.patPrimary[patientID-1])
	if !r.chance(0.55) {
		providerID = int64(r.pick(g.providerCDF)) + 1
	}
	prov := g.provInfo[providerID-1]

	payerID := g.selfPayID
	planID := int64(g.patPlan[patientID-1])
	if planID != 0 {
		payerID = g.plans[planID-1].payerID
	}
	py := g.payers[payerID-1]
	claimType := "professional"
	switch {
	case prov.institutional:
		claimType = "institutional"
	case prov.dental:
		claimType = "dental"
	}

	dos := g.anchor - g.serviceDays + int64(r.pick(g.serviceCDF))
	lag := 1 + int64(r.ExpFloat64()*6)
	if lag > 90 {
		lag = 90
	}
	received := (dos+lag)*secondsPerDay + r.between(6*3600, 20*3600)
	now := g.anchor * secondsPerDay
	if received > now {
		received = now - r.between(60, 6*3600)
		if received < dos*secondsPerDay {
			received = dos*secondsPerDay + 3600
		}
	}
	ageDays := (now - received) / secondsPerDay

	var status string
	switch {
	case ageDays < 3:
		status = []string{"received", "pended", "adjudicated", "denied", "paid"}[r.weighted(55, 20, 15, 5, 5)]
	case ageDays < 30:
		status = []string{"received", "pended", "adjudicated", "paid", "denied", "appealed"}[r.weighted(5, 12, 25, 48, 8, 2)]
	default:
		status = []string{"paid", "denied", "adjudicated", "appealed", "void", "pended"}[r.weighted(82, 9, 4, 1.5, 2, 1.5)]
	}

	// Lines.
	nLines := 1 + r.weighted(35, 30, 17, 10, 5, 3)
	primaryDx := g.icd[r.pick(g.icdCDF)].code
	var billed int64
	lines := out.lines
	for ln := 1; ln <= nLines; ln++ {
		var code codeRow
		isCPT := !r.chance(0.12)
		if isCPT {
			code = g.cpt[r.pick(g.cptCDF)]
		} else {
			code = g.hcpcs[r.pick(g.hcpcsCDF)]
		}
		dx := primaryDx
		if ln > 1 && r.chance(0.3) {
			dx = g.icd[r.pick(g.icdCDF)].code
		}
		units := int64(1)
		switch code.category {
		case "PT":
			units = r.between(1, 4)
		case "Drugs", "Supplies":
			units = r.between(1, 10)
		}
		amount := int64(math.Round(code.rvu*36.04*float64(units)*(1.8+r.Float64()*1.4)*100)) + 500
		billed += amount
		lines.int(id)
		lines.int(int64(ln))
		if isCPT {
			lines.str(code.code)
			lines.null()
		} else {
			lines.null()
			lines.str(code.code)
		}
		lines.str(dx)
		if r.chance(0.12) {
			lines.str(modifiers[r.IntN(len(modifiers))])
		} else {
			lines.null()
		}
		lines.int(units)
		lines.cents(amount)
		allowedLine, paidLine := g.adjudicateAmounts(r, py, status, amount)
		writeOptCents(lines, allowedLine)
		writeOptCents(lines, paidLine)
		lines.date(dos)
		lines.end()
	}

	allowed, paid := g.adjudicateAmounts(r, py, status, billed)
	var adjudicated int64
	if status != "received" && status != "pended" {
		adjudicated = received + r.between(1, 20)*secondsPerDay
		if adjudicated > now {
			adjudicated = now - r.between(60, 3600)
		}
		if adjudicated < received {
			adjudicated = received + 60
		}
	}
	updated := received
	if adjudicated > updated {
		updated = adjudicated
	}

	c := out.claims
	c.int(id)
	c.str(fmt.Sprintf("CLM%d%09d", 2000+(dos/365), id))
	c.int(patientID)
	c.int(providerID)
	c.int(payerID)
	if planID == 0 {
		c.null()
	} else {
		c.int(planID)
	}
	c.str(claimType)
	c.date(dos)
	c.timestamp(received)
	c.str(status)
	if status == "pended" {
		c.str(pendReasons[r.IntN(len(pendReasons))])
	} else {
		c.null()
	}
	c.str(primaryDx)
	c.cents(billed)
	writeOptCents(c, allowed)
	writeOptCents(c, paid)
	if paid >= 0 && allowed >= 0 {
		c.cents(allowed - paid)
	} else {
		c.null()
	}
	if adjudicated > 0 {
		c.timestamp(adjudicated)
	} else {
		c.null()
	}
	c.timestamp(updated)
	c.end()

	// Payments: paid claims were paid (or are about to be); some adjudicated ones wait.
	if out.payments == nil {
		return
	}
	var payStatus string
	switch {
	case status == "paid" && paid > 0:
		payStatus = []string{"Posted", "Failed", "Reversed"}[r.weighted(97.5, 1.5, 1)]
	case status == "adjudicated" && ageDays < 30 && r.chance(0.6):
		payStatus = "Pending"
	default:
		return
	}
	amount := paid
	if payStatus == "Pending" {
		amount = int64(float64(allowed) * 0.8)
	}
	if amount <= 0 {
		return
	}
	created := adjudicated + r.between(1, 5)*secondsPerDay
	if created > now {
		created = now - r.between(60, 3600)
		payStatus = "Pending"
	}
	p := out.payments
	p.int(id) // one payment per claim at most, so the claim's id serves
	p.int(id)
	p.int(payerID)
	p.cents(amount)
	p.str([]string{"EFT", "check", "virtual_card"}[r.weighted(80, 15, 5)])
	p.str(payStatus)
	p.str(fmt.Sprintf("TRN%012d", permute(id, 1000003, 99, 1000000000000)))
	p.timestamp(created)
	if payStatus == "Posted" || payStatus == "Reversed" {
		posted := created + r.between(1, 3)*secondsPerDay
		if posted > now {
			posted = now
		}
		p.timestamp(posted)
	} else {
		p.null()
	}
	p.end()
}

// adjudicateAmounts returns allowed and paid cents for a billed amount (-1 = NULL).
func (g *Generator) adjudicateAmounts(r *rowRand, py payer, status string, billed int64) (allowed, paid int64) {
	switch status {
	case "received", "pended", "void":
		return -1, -1
	case "denied":
		return 0, 0
	}
	allowed = int64(float64(billed) * py.allowFactor * (0.9 + r.Float64()*0.2))
	switch status {
	case "paid", "appealed":
		coins := []float64{0, 0.1, 0.2, 0.3}[r.weighted(40, 25, 25, 10)]
		return allowed, int64(float64(allowed) * (1 - coins))
	default: // adjudicated, not yet paid
		return allowed, -1
	}
}

func writeOptCents(w *rowWriter, c int64) {
	if c < 0 {
		w.null()
		return
	}
	w.cents(c)
}

// ---- appointments ----

func (g *Generator) appointment(r *rowRand, id int64, w *rowWriter) {
	r.at(tagAppointment, id)
	patientID := int64(r.pick(g.patientCDF)) + 1
	providerID := int64(g.patPrimary[patientID-1])
	if !r.chance(0.65) || g.provInfo[providerID-1].noAppointments {
		for try := 0; try < 8; try++ {
			providerID = int64(r.pick(g.providerCDF)) + 1
			if !g.provInfo[providerID-1].noAppointments {
				break
			}
		}
	}
	future := r.chance(0.07)
	var day int64
	if future {
		day = g.anchor + r.between(0, 89)
	} else {
		day = g.anchor - g.serviceDays + int64(r.pick(g.serviceCDF))
	}
	switch weekday(day) {
	case 0:
		day++
	case 6:
		if r.chance(0.7) {
			day += 2
		}
	}
	slot := r.between(0, 35) // 08:00 to 16:45 in quarter hours
	start := day*secondsPerDay + 8*3600 + slot*900
	typ := appointmentTypes[r.IntN(len(appointmentTypes))]
	now := g.anchor * secondsPerDay
	var status string
	if start < now {
		status = []string{"Completed", "Canceled", "NoShow"}[r.weighted(82, 10, 8)]
	} else {
		status = []string{"Scheduled", "Confirmed", "Canceled"}[r.weighted(60, 30, 10)]
	}
	created := start - r.between(1, 60)*secondsPerDay - r.between(0, 8*3600)

	w.int(id)
	w.int(patientID)
	w.int(providerID)
	w.timestamp(start)
	w.int(int64(typ.duration))
	w.str(status)
	w.str(typ.name)
	w.str(appointmentReasons[r.IntN(len(appointmentReasons))])
	w.timestamp(created)
	w.end()
}

// ---- availabilities ----

// availability writes the weekly schedule of a provider. Ids are providerID*16+k so
// they do not depend on how many slots earlier providers have.
func (g *Generator) availability(r *rowRand, providerID int64, w *rowWriter) {
	prov := g.provInfo[providerID-1]
	if !prov.active || prov.noAppointments {
		return
	}
	r.at(tagAvailability, providerID)
	days := []int64{1, 2, 3, 4, 5}
	r.Shuffle(len(days), func(i, j int) { days[i], days[j] = days[j], days[i] })
	n := 3 + r.IntN(3)
	chosen := append([]int64(nil), days[:n]...)
	if r.chance(0.08) {
		chosen = append(chosen, 6)
	}
	location := fmt.Sprintf("%s Clinic, Suite %d", cities[r.IntN(len(cities))].name, 100+r.IntN(400))
	k := int64(0)
	for _, d := range chosen {
		blocks := [][2]int64{{8 * 3600, 12 * 3600}, {13 * 3600, 17 * 3600}}
		if r.chance(0.3) {
			blocks = blocks[r.IntN(2) : r.IntN(2)+1]
			if len(blocks) == 0 {
				blocks = [][2]int64{{8 * 3600, 12 * 3600}}
			}
		}
		for _, b := range blocks {
			w.int(providerID*16 + k)
			w.int(providerID)
			w.int(d)
			w.clock(b[0])
			w.clock(b[1])
			w.str(location)
			w.end()
			k++
		}
	}
}

// ---- users ----

// User ids: patients' portal accounts use the patient's id; providers' accounts follow
// (patients + provider id); then staff, then administrators.
func (g *Generator) userForPatient(r *rowRand, pat patientRow, w *rowWriter) {
	if !pat.portalUser {
		return
	}
	r.at(tagUser, pat.id)
	g.writeUser(r, w, pat.id, pat.email, "patient", pat.id, 0)
}

func (g *Generator) userForProvider(r *rowRand, providerID int64, w *rowWriter) {
	prov := g.provider(r, providerID)
	r.at(tagUser, g.counts.Patients+providerID)
	if !r.chance(0.7) {
		return
	}
	name := strings.ToLower(prov.last)
	if name == "" {
		name = "office"
	}
	email := fmt.Sprintf("%s.%d@clinic.example.net", name, providerID)
	g.writeUser(r, w, g.counts.Patients+providerID, email, "provider", 0, providerID)
}

func (g *Generator) staffUser(r *rowRand, k int64, w *rowWriter) {
	id := g.staffUserID(k)
	r.at(tagUser, id)
	kind := "staff"
	email := fmt.Sprintf("staff%d@clinic.example.net", k)
	if k > g.counts.Staff {
		kind = "admin"
		email = fmt.Sprintf("admin%d@clinic.example.net", k-g.counts.Staff)
	}
	g.writeUser(r, w, id, email, kind, 0, 0)
}

// staffUserID maps staff number k (1-based; beyond Staff are administrators) to its id.
func (g *Generator) staffUserID(k int64) int64 {
	return g.counts.Patients + g.counts.Providers + k
}

const hashAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *Generator) writeUser(r *rowRand, w *rowWriter, id int64, email, kind string, patientID, providerID int64) {
	// A bcrypt-shaped hash of nothing: realistic width, no real secret behind it.
	var h [53]byte
	for i := range h {
		h[i] = hashAlphabet[r.IntN(len(hashAlphabet))]
	}
	now := g.anchor * secondsPerDay
	created := now - r.between(1, 6*365)*secondsPerDay
	w.int(id)
	w.str(email)
	w.str("$2b$12$" + string(h[:]))
	w.boolean(r.chance(0.93))
	w.str(kind)
	if patientID > 0 {
		w.int(patientID)
	} else {
		w.null()
	}
	if providerID > 0 {
		w.int(providerID)
	} else {
		w.null()
	}
	if r.chance(0.8) {
		w.timestamp(now - r.between(60, 180*secondsPerDay))
	} else {
		w.null()
	}
	w.timestamp(created)
	w.end()
}

// ---- audit logs ----

func (g *Generator) auditLog(r *rowRand, id int64, w *rowWriter) {
	r.at(tagAudit, id)
	staff := g.counts.Staff + admins
	userID := g.staffUserID(r.between(1, staff))
	action := []string{"Read", "Update", "Create", "Login", "Export", "Delete"}[r.weighted(68, 14, 9, 6, 1, 0.5)]
	var table string
	var record int64
	switch r.weighted(40, 30, 25, 5) {
	case 0:
		table, record = "patients", r.between(1, g.counts.Patients)
	case 1:
		table, record = "claims", r.between(1, g.counts.Claims)
	case 2:
		table, record = "appointments", r.between(1, g.counts.Appointments)
	default:
		table, record = "payments", r.between(1, g.counts.Claims)
	}
	if action == "Login" {
		table, record = "users", userID
	}
	day := g.anchor - r.between(0, 399)
	at := day*secondsPerDay + r.between(7*3600, 19*3600)
	purpose := []string{"treatment", "payment", "operations"}[r.weighted(60, 30, 10)]
	app := []string{"ehr-web", "claims-portal", "scheduler", "billing-batch"}[r.weighted(45, 25, 20, 10)]

	w.int(id)
	w.int(userID)
	w.str(action)
	w.str(table)
	w.str(strconv.FormatInt(record, 10))
	w.str(fmt.Sprintf("10.%d.%d.%d", r.IntN(32), r.IntN(256), 1+r.IntN(254)))
	w.timestamp(at)
	w.str(`{"app": "` + app + `", "purpose": "` + purpose + `"}`)
	w.end()
}
