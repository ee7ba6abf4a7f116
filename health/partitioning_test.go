package health_test

import (
	"strings"
	"testing"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

func col(name, typ string, notNull bool) snapshot.Column {
	return snapshot.Column{Name: name, Type: typ, NotNull: notNull}
}

// Large claims filtered by service date get monthly ranges; a large audit log gets
// daily ranges but, with no statement filtering on its time column, the reason against
// and a lower severity; a large patient-keyed table without a date gets hash by
// patient; small tables and tables already partitioned get nothing.
func TestPartitioningAdvice(t *testing.T) {
	s := base()
	s.Tables = append(s.Tables,
		snapshot.Table{Schema: "public", Name: "claims", Kind: "table", TotalBytes: 40 << 30, RowEstimate: 90e6,
			Columns: []snapshot.Column{col("id", "bigint", true), col("patient_id", "bigint", true), col("date_of_service", "date", true), col("received_at", "timestamp with time zone", true)}},
		snapshot.Table{Schema: "public", Name: "audit_logs", Kind: "table", TotalBytes: 12 << 30, RowEstimate: 30e6,
			Columns: []snapshot.Column{col("id", "bigint", true), col("created_at", "timestamp with time zone", true), col("action", "text", true)}},
		snapshot.Table{Schema: "public", Name: "patient_documents", Kind: "table", TotalBytes: 15 << 30, RowEstimate: 5e6,
			Columns: []snapshot.Column{col("id", "bigint", true), col("patient_id", "bigint", true), col("body", "text", false)}},
		snapshot.Table{Schema: "public", Name: "claim_notes", Kind: "table", TotalBytes: 1 << 20, RowEstimate: 1000,
			Columns: []snapshot.Column{col("id", "bigint", true), col("created_at", "date", true)}},
		snapshot.Table{Schema: "public", Name: "encounters", Kind: "partitioned", TotalBytes: 50 << 30, RowEstimate: 100e6,
			Columns: []snapshot.Column{col("id", "bigint", true), col("visit_date", "date", true)}},
	)
	s.Workload.Statements = []snapshot.Statement{
		{Query: "SELECT count(*) FROM claims WHERE date_of_service >= $1 AND date_of_service < $2", Calls: 500},
		{Query: "SELECT * FROM patient_documents WHERE patient_id = $1", Calls: 9000},
		{Query: "INSERT INTO audit_logs (created_at, action) VALUES ($1, $2)", Calls: 1e6},
	}
	fs := runOn(t, s)
	claims := find(fs, "tables.partitioning", "public.claims")
	if claims == nil || !strings.Contains(claims.Title, "range by month on date_of_service") || claims.Severity < finding.Low ||
		!strings.Contains(claims.Detail, "1 statement(s) (500 calls) filter on date_of_service") ||
		!strings.Contains(claims.Recommendation, "pgmedic partition plan --table public.claims --column date_of_service --strategy range --interval month") {
		t.Fatalf("claims advice: %+v", claims)
	}
	audit := find(fs, "tables.partitioning", "public.audit_logs")
	if audit == nil || !strings.Contains(audit.Title, "range by day on created_at") || audit.Severity != finding.Info ||
		!strings.Contains(audit.Detail, "Against: no statement in the workload filters on created_at") {
		t.Fatalf("audit advice: %+v", audit)
	}
	docs := find(fs, "tables.partitioning", "public.patient_documents")
	if docs == nil || !strings.Contains(docs.Title, "hash on patient_id, 16 partitions") || strings.Contains(docs.Detail, "Against") {
		t.Fatalf("patient documents advice: %+v", docs)
	}
	for _, none := range []string{"public.claim_notes", "public.encounters"} {
		if f := find(fs, "tables.partitioning", none); f != nil {
			t.Errorf("unexpected advice for %s: %s", none, f.Title)
		}
	}
	// With a lower size threshold the small table qualifies.
	if f := find(runOn(t, s, "tables.partitioning.min_bytes=1000"), "tables.partitioning", "public.claim_notes"); f == nil {
		t.Errorf("the min_bytes threshold is not applied")
	}
}
