package indexadvisor_test

import (
	"context"
	"testing"

	"github.com/pgmedic/pgmedic/config"
	"github.com/pgmedic/pgmedic/indexadvisor"
	"github.com/pgmedic/pgmedic/internal/pgtest"
	"github.com/pgmedic/pgmedic/internal/synth"
	"github.com/pgmedic/pgmedic/workload"
)

// adviseWith runs the advisor on explicit inputs with the given presets switch.
func adviseWith(t *testing.T, db *pgtest.DB, presets bool, inputs []workload.Input, tune ...func(*config.Profile)) *indexadvisor.Advice {
	t.Helper()
	cfg, _ := config.Defaults(config.Production)
	for _, f := range tune {
		f(cfg)
	}
	adv, err := newAdvisor(t, db.URI, cfg, indexadvisor.Options{Presets: &presets}).Advise(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	return adv
}

// On a new database with no workload yet, the presets find the usual access paths
// from the schema's column roles; each is still measured, and without presets an
// empty workload gets nothing. Once there is a workload, a preset alone recommends
// nothing.
func TestHealthcarePresets(t *testing.T) {
	db := pg.NewDB(t)
	if _, err := synth.Load(context.Background(), db.Pool(t), synth.LoadOptions{Options: synth.Options{Scale: 0.02, Seed: 5}}); err != nil {
		t.Fatal(err)
	}
	empty := []workload.Input{}
	adv := adviseWith(t, db, true, empty)
	sources := map[string]bool{}
	for _, r := range adv.Recommendations {
		for _, s := range r.Sources {
			sources[s] = true
		}
		if r.CostAfter >= r.CostBefore {
			t.Errorf("%s recommended without a measured improvement (%v -> %v)", r.SQL, r.CostBefore, r.CostAfter)
		}
	}
	for _, want := range []string{"preset: patients by MRN", "preset: claims by patient and date", "preset: appointments by provider and time"} {
		if !sources[want] {
			t.Errorf("no recommendation from %q; got %v", want, describe(adv))
		}
	}
	want(t, adv, "public.patients", "mrn")

	if off := adviseWith(t, db, false, empty); len(off.Recommendations) != 0 {
		t.Errorf("no workload and no presets, yet: %v", describe(off))
	}

	// With a workload, the presets weigh nothing: only what the workload needs.
	withWork := adviseWith(t, db, true, []workload.Input{{Text: "SELECT id, status FROM claims WHERE claim_number = $1", Calls: 1000, Source: "test"}})
	for _, r := range withWork.Recommendations {
		if r.Table != "public.claims" || r.Columns[0] != "claim_number" {
			t.Errorf("%s recommended on a preset's word alone", r.SQL)
		}
	}
	want(t, withWork, "public.claims", "claim_number")
}

// An index on a column the workload rewrites all the time, for a read a thousand
// times rarer, costs more than it saves: the write penalty, not the minimum gain,
// decides (without it the same index is recommended); read as often as it is
// written, the index pays.
func TestWritePenalty(t *testing.T) {
	db := fixtureDB(t)
	inputs := func(reads int64) []workload.Input {
		return []workload.Input{
			{Text: "UPDATE visits SET note = $1 WHERE id = $2", Calls: 2_000_000, Rows: 2_000_000, Source: "test"},
			{Text: "SELECT id FROM visits WHERE note = $1", Calls: reads, Source: "test"},
		}
	}
	onNote := func(adv *indexadvisor.Advice) bool {
		for _, r := range adv.Recommendations {
			if r.Columns[0] == "note" {
				return true
			}
		}
		return false
	}
	if adv := adviseWith(t, db, false, inputs(1000)); onNote(adv) {
		t.Errorf("an index on note for 1,000 reads against 2,000,000 updates of it: %v", describe(adv))
	}
	noPenalty := func(p *config.Profile) { p.IndexOptimizer.WriteCostWeight = 0 }
	if adv := adviseWith(t, db, false, inputs(1000), noPenalty); !onNote(adv) {
		t.Errorf("without the write penalty the note index should win: %v", describe(adv))
	}
	if adv := adviseWith(t, db, false, inputs(2_000_000)); !onNote(adv) {
		t.Errorf("read as often as it is written, the note index pays; got %v", describe(adv))
	}
}
