// Command gorm is a pgmedic statement corpus client: GORM over pgx (gorm.io/driver/postgres).
//
// It is its own module so that pgmedic's module does not depend on GORM. pgx uses the
// extended protocol and, in its default exec mode (cache statement), prepares each distinct
// statement once per connection as a named statement (stmtcache_...) and executes it after.
//
// Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
// CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.
package main

import (
	"errors"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strconv"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

type Payer struct {
	ID        int32
	PayerCode string
	Name      string
	PayerType string
	State     *string
}

type Provider struct {
	ID                   int32
	NPI                  string `gorm:"column:npi"`
	FirstName            *string
	LastName             *string
	OrganizationName     *string
	Specialty            string
	TaxonomyCode         string
	Network              string
	State                string
	IsActive             bool
	AcceptingNewPatients bool
	CreatedAt            time.Time `gorm:"autoCreateTime:false;default:now()"`
}

type Patient struct {
	ID                int64
	MRN               string `gorm:"column:mrn"`
	FirstName         string
	LastName          string
	DateOfBirth       time.Time
	Sex               string
	SSN               *string `gorm:"column:ssn"`
	City              *string
	State             *string
	Email             *string
	PlanID            *int32
	PrimaryProviderID *int32
	PrimaryProvider   *Provider
	Claims            []Claim
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

type Claim struct {
	ID                    int64
	ClaimNumber           string
	PatientID             int64
	Patient               *Patient
	ProviderID            int32
	Provider              *Provider
	PayerID               int32
	Payer                 *Payer
	PlanID                *int32
	ClaimType             string
	DateOfService         time.Time
	ReceivedAt            time.Time
	Status                string
	PendReason            *string
	PrimaryDiagnosis      *string
	BilledAmount          float64
	AllowedAmount         *float64
	PaidAmount            *float64
	PatientResponsibility *float64
	AdjudicatedAt         *time.Time
	UpdatedAt             time.Time
	Lines                 []ClaimLine `gorm:"foreignKey:ClaimID"`
	Payments              []Payment
}

type ClaimLine struct {
	ClaimID      int64 `gorm:"primaryKey"`
	LineNumber   int16 `gorm:"primaryKey"`
	CptCode      *string
	HcpcsCode    *string
	Icd10Code    string `gorm:"column:icd10_code"`
	Units        int32
	BilledAmount float64
	ServiceDate  time.Time
}

type Appointment struct {
	ID                int64
	PatientID         int64
	Patient           *Patient
	ProviderID        int32
	ScheduledDateTime time.Time
	Duration          int32
	Status            string
	AppointmentType   string
	Reason            *string
	CreatedAt         time.Time
}

type Availability struct {
	ID         int32
	ProviderID int32
	DayOfWeek  int16
	StartTime  string
	EndTime    string
	Location   *string
}

type Payment struct {
	ID          int64
	ClaimID     int64
	PayerID     int32
	Amount      float64
	Method      string
	Status      string
	TraceNumber *string
	CreatedAt   time.Time
	PostedAt    *time.Time
}

type User struct {
	ID           int64
	Email        string
	PasswordHash string
	IsActive     bool
	UserType     string
	PatientID    *int64
	ProviderID   *int32
	LastLoginAt  *time.Time
	CreatedAt    time.Time
}

type AuditLog struct {
	ID         int64
	UserID     *int64
	Action     string
	Table      string `gorm:"column:table_name"`
	RecordID   string
	ClientIP   *string   `gorm:"column:client_ip;type:inet"`
	OccurredAt time.Time `gorm:"default:now()"`
	Details    string    `gorm:"type:jsonb"`
}

type CptCode struct {
	Code          string `gorm:"primaryKey"`
	Description   string
	Category      string
	RelativeValue float64
}

// Table names are the demo schema's (GORM would pluralise anyway; this makes it explicit).
func (Payer) TableName() string        { return "payers" }
func (Provider) TableName() string     { return "providers" }
func (Patient) TableName() string      { return "patients" }
func (Claim) TableName() string        { return "claims" }
func (ClaimLine) TableName() string    { return "claim_lines" }
func (Appointment) TableName() string  { return "appointments" }
func (Availability) TableName() string { return "availabilities" }
func (Payment) TableName() string      { return "payments" }
func (User) TableName() string         { return "users" }
func (AuditLog) TableName() string     { return "audit_logs" }
func (CptCode) TableName() string      { return "cpt_codes" }

var statuses = []string{"received", "pended", "adjudicated", "paid", "denied", "appealed", "void"}
var names = []string{"smi", "john", "mar", "lee", "gar", "wil", "br", "and"}

func main() {
	iter := 8
	if s := os.Getenv("CORPUS_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatal(err)
		}
		iter = n
	}
	// An empty DSN: pgx takes the connection from the libpq environment.
	db, err := gorm.Open(postgres.Open(""), &gorm.Config{Logger: logger.Default.LogMode(logger.Silent)})
	if err != nil {
		log.Fatal(err)
	}
	if err := run(db, iter); err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	fmt.Println("gorm: done")
}

func run(db *gorm.DB, iter int) error {
	rnd := rand.New(rand.NewSource(6))
	choice := func(a []string) string { return a[rnd.Intn(len(a))] }
	sample := func(a []string, k int) []string {
		p := rnd.Perm(len(a))
		out := make([]string, k)
		for i := range out {
			out[i] = a[p[i]]
		}
		return out
	}
	day := func() time.Time {
		return time.Date(2020+rnd.Intn(7), time.Month(1+rnd.Intn(12)), 1+rnd.Intn(28), 0, 0, 0, 0, time.UTC)
	}

	var mrns, npis, emails []string
	var userIDs []int64
	var maxPatient, maxClaim, maxProvider int64
	if err := db.Model(&Patient{}).Order("id").Limit(50).Pluck("mrn", &mrns).Error; err != nil {
		return err
	}
	db.Model(&Provider{}).Order("id").Limit(50).Pluck("npi", &npis)
	db.Model(&User{}).Where("is_active = ?", true).Order("id").Limit(50).Pluck("email", &emails)
	db.Model(&User{}).Order("id").Limit(100).Pluck("id", &userIDs)
	db.Model(&Patient{}).Select("max(id)").Scan(&maxPatient)
	db.Model(&Claim{}).Select("max(id)").Scan(&maxClaim)
	db.Model(&Provider{}).Select("max(id)").Scan(&maxProvider)

	check := func(what string, tx *gorm.DB) error {
		if tx.Error != nil && !errors.Is(tx.Error, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%s: %w", what, tx.Error)
		}
		return nil
	}

	for i := 0; i < iter; i++ {
		pid := 1 + rnd.Int63n(maxPatient)
		prov := 1 + rnd.Int63n(maxProvider)
		cid := 1 + rnd.Int63n(maxClaim)
		d0 := day()
		d1 := d0.AddDate(0, 0, 30+rnd.Intn(335))
		var p Patient
		var pr Provider
		var u User
		var pats []Patient
		var cls []Claim
		var appts []Appointment
		var rows []map[string]any
		var n int64

		steps := []struct {
			name string
			tx   func() *gorm.DB
		}{
			// lookups by id and natural keys
			{"patient by id", func() *gorm.DB { return db.Preload("PrimaryProvider").First(&p, pid) }},
			{"patient by mrn", func() *gorm.DB { return db.Where("mrn = ?", choice(mrns)).Take(&Patient{}) }},
			{"provider by npi", func() *gorm.DB { return db.Where(&Provider{NPI: choice(npis)}).First(&pr) }},
			{"user by email", func() *gorm.DB {
				return db.Where("lower(email) = lower(?) AND is_active", choice(emails)).First(&u)
			}},
			{"login", func() *gorm.DB {
				return db.Model(&User{}).Where("id = ?", u.ID).Update("last_login_at", gorm.Expr("now()"))
			}},
			// paged lists, IN lists, date ranges, ILIKE
			{"patients page", func() *gorm.DB {
				return db.Order("last_name, first_name, id").Limit(25).Offset(25 * i).Find(&pats)
			}},
			{"claims by status and dates", func() *gorm.DB {
				return db.Select("id", "claim_number", "status", "billed_amount").
					Where("status IN ?", sample(statuses, 1+i%3)).
					Where("date_of_service BETWEEN ? AND ?", d0, d1).
					Order("date_of_service DESC").Limit(50).Find(&cls)
			}},
			{"patient search", func() *gorm.DB {
				t := choice(names)
				return db.Where("last_name ILIKE ?", t+"%").Or("first_name ILIKE ?", "%"+t+"%").
					Order("last_name").Limit(20).Find(&pats)
			}},
			{"providers not in", func() *gorm.DB {
				return db.Model(&Provider{}).Select("id", "npi").Where("is_active").
					Not(map[string]any{"state": []string{"CA", "NY"}}).Where("organization_name IS NULL").Find(&rows)
			}},
			{"appointments window", func() *gorm.DB {
				return db.Preload("Patient").Where("provider_id = ? AND status IN ? AND scheduled_date_time >= ? AND scheduled_date_time < ?",
					prov, []string{"Scheduled", "Confirmed"}, d0, d1).Order("scheduled_date_time").Find(&appts)
			}},
			{"availabilities", func() *gorm.DB {
				var av []Availability
				return db.Where(map[string]any{"provider_id": prov, "day_of_week": rnd.Intn(7)}).Order("start_time").Find(&av)
			}},
			// joins and preloading
			{"claims with provider and payer", func() *gorm.DB {
				return db.Joins("Provider").Joins("Payer").Where("claims.patient_id = ?", pid).
					Order("claims.date_of_service DESC").Find(&cls)
			}},
			{"claims preload lines payments", func() *gorm.DB {
				return db.Preload("Lines").Preload("Payments").Where("provider_id = ? AND date_of_service >= ?", prov, d0).
					Limit(5).Find(&cls)
			}},
			{"patients with denied claims join", func() *gorm.DB {
				return db.Model(&Patient{}).Distinct("patients.id").
					Joins("JOIN claims ON claims.patient_id = patients.id AND claims.status = ?", "denied").
					Limit(20).Find(&rows)
			}},
			// aggregates, GROUP BY, COALESCE, CASE
			{"claims by status", func() *gorm.DB {
				return db.Model(&Claim{}).Select("status, count(*) AS n, sum(billed_amount) AS billed, coalesce(sum(paid_amount), ?) AS paid", 0).
					Where("provider_id = ?", prov).Group("status").Order("status").Find(&rows)
			}},
			{"monthly by payer", func() *gorm.DB {
				return db.Table("claims c").Select("py.name, date_trunc('month', c.date_of_service) AS month, sum(c.billed_amount) AS billed").
					Joins("JOIN payers py ON py.id = c.payer_id").
					Where("c.date_of_service >= ? AND c.date_of_service < ?", d0, d1).
					Group("py.name, month").Having("count(*) > ?", 2).Order("month, py.name").Find(&rows)
			}},
			{"count distinct", func() *gorm.DB {
				return db.Model(&Claim{}).Where("payer_id = ?", 1+rnd.Intn(30)).Distinct("patient_id").Count(&n)
			}},
			{"case", func() *gorm.DB {
				return db.Model(&Claim{}).Select("id, CASE WHEN paid_amount IS NULL THEN 'unpaid' WHEN paid_amount < billed_amount * ? THEN 'short' ELSE 'ok' END AS payment_state", 0.5).
					Where(&Claim{PatientID: pid}).Find(&rows)
			}},
			{"count appointments", func() *gorm.DB {
				return db.Model(&Appointment{}).Where("provider_id = ? AND status = ?", prov, "Scheduled").Count(&n)
			}},
			// EXISTS, subqueries, CTE via subquery in FROM, window functions
			{"exists denied", func() *gorm.DB {
				return db.Model(&Patient{}).Select("id", "mrn").
					Where("EXISTS (?)", db.Table("claims").Select("1").Where("claims.patient_id = patients.id AND claims.status = ? AND claims.date_of_service > ?", "denied", d0)).
					Order("id").Limit(20).Find(&rows)
			}},
			{"not in subquery", func() *gorm.DB {
				return db.Model(&Provider{}).Where("is_active AND id NOT IN (?)",
					db.Model(&Appointment{}).Select("provider_id").Where("scheduled_date_time >= ?", d0)).Find(&[]Provider{})
			}},
			{"ranked from subquery", func() *gorm.DB {
				sub := db.Model(&Claim{}).Select("id, provider_id, billed_amount, rank() OVER (PARTITION BY provider_id ORDER BY billed_amount DESC) AS rk").
					Where("date_of_service BETWEEN ? AND ?", d0, d1)
				return db.Table("(?) AS ranked", sub).Where("rk <= ?", 3).Order("provider_id, rk").Find(&rows)
			}},
			{"running total", func() *gorm.DB {
				return db.Model(&Payment{}).Select("claim_id, amount, sum(amount) OVER (PARTITION BY claim_id ORDER BY created_at) AS running").
					Where("claim_id IN ?", []int64{cid, cid + 1, cid + 2}).Find(&rows)
			}},
			{"cte", func() *gorm.DB {
				return db.Raw("WITH recent AS (?) SELECT p.mrn, recent.n FROM patients p JOIN recent ON recent.patient_id = p.id WHERE recent.n >= ? ORDER BY recent.n DESC LIMIT ?",
					db.Model(&Claim{}).Select("patient_id, count(*) AS n").Where("date_of_service >= ?", d0).Group("patient_id"), 2, 10).Scan(&rows)
			}},
			// JSONB
			{"audit by app", func() *gorm.DB {
				return db.Where("details->>'app' = ? AND occurred_at >= ?", choice([]string{"ehr-web", "scheduler", "billing"}),
					time.Date(2026, time.Month(1+i%12), 1, 0, 0, 0, 0, time.UTC)).Order("occurred_at DESC").Limit(20).Find(&[]AuditLog{})
			}},
			{"audit containment", func() *gorm.DB {
				return db.Model(&AuditLog{}).Where("details @> ?", fmt.Sprintf(`{"purpose": %q}`, choice([]string{"treatment", "payment"}))).Count(&n)
			}},
			{"audit has key", func() *gorm.DB {
				return db.Model(&AuditLog{}).Select("id").Where("jsonb_exists(details, ?) AND user_id = ?", "purpose", userIDs[rnd.Intn(len(userIDs))]).Limit(5).Find(&rows)
			}},
		}
		for _, s := range steps {
			if err := check(s.name, s.tx()); err != nil {
				return err
			}
		}

		// writes
		err := db.Transaction(func(tx *gorm.DB) error {
			reason := "Corpus GORM"
			appt := Appointment{PatientID: pid, ProviderID: int32(prov), ScheduledDateTime: time.Date(2027, 8, 1+i, 9, 0, 0, 0, time.UTC),
				Duration: 30, Status: "Scheduled", AppointmentType: "follow_up", Reason: &reason}
			if err := tx.Create(&appt).Error; err != nil {
				return err
			}
			ip := fmt.Sprintf("10.13.14.%d", i)
			uid := userIDs[rnd.Intn(len(userIDs))]
			if err := tx.Create(&AuditLog{UserID: &uid, Action: "Create", Table: "appointments", RecordID: strconv.FormatInt(appt.ID, 10),
				ClientIP: &ip, Details: fmt.Sprintf(`{"app": "scheduler", "iteration": %d}`, i)}).Error; err != nil {
				return err
			}
			var updated []Appointment
			if err := tx.Model(&updated).Clauses(clause.Returning{}).Where("id = ?", appt.ID).Update("status", "Confirmed").Error; err != nil {
				return err
			}
			return tx.Clauses(clause.Returning{Columns: []clause.Column{{Name: "id"}}}).Delete(&appt).Error
		})
		if err != nil {
			return err
		}
		err = db.Transaction(func(tx *gorm.DB) error {
			var c Claim
			if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).First(&c, cid).Error; err != nil {
				return err
			}
			if err := tx.Save(&c).Error; err != nil {
				return err
			}
			ids := make([]int64, 2+i%4)
			for k := range ids {
				ids[k] = 1 + rnd.Int63n(maxClaim)
			}
			return tx.Model(&Claim{}).Where("id IN ? AND status = ?", ids, "pended").
				Updates(map[string]any{"pend_reason": gorm.Expr("coalesce(pend_reason, ?)", "corpus review"), "updated_at": gorm.Expr("now()")}).Error
		})
		if err != nil {
			return err
		}
		code := fmt.Sprintf("ZG%03d", i)
		steps2 := []*gorm.DB{
			db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "code"}}, DoUpdates: clause.AssignmentColumns([]string{"description", "relative_value"})}).
				Create(&CptCode{Code: code, Description: "gorm corpus " + strconv.Itoa(i), Category: "Corpus", RelativeValue: 1.4}),
			db.Clauses(clause.OnConflict{DoNothing: true}).Create(&[]CptCode{{Code: "99213", Description: "Office visit", Category: "E/M", RelativeValue: 1.3}}),
			db.Where("code = ?", code).Delete(&CptCode{}),
		}
		for k, s := range steps2 {
			if err := check("upsert step "+strconv.Itoa(k), s); err != nil {
				return err
			}
		}
		errRollback := errors.New("rollback on purpose")
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&Patient{ID: pid}).Update("updated_at", gorm.Expr("now()")).Error; err != nil {
				return err
			}
			_ = tx.Transaction(func(tx2 *gorm.DB) error { // savepoint
				tx2.Model(&Patient{ID: pid}).Update("city", gorm.Expr("city"))
				return errRollback
			})
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			return err
		}
	}
	return nil
}
