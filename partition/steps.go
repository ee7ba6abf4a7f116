package partition

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/internal/ident"
)

// Phases of a conversion, in order; rolled_back ends one that was undone.
const (
	PhaseStarted    = "started"
	PhaseCopying    = "copying"
	PhaseCopied     = "copied"
	PhaseIndexed    = "indexed"
	PhaseVerified   = "verified"
	PhaseSwapped    = "swapped"
	PhaseFinished   = "finished"
	PhaseRolledBack = "rolled_back"
)

var phaseOrder = []string{PhaseStarted, PhaseCopying, PhaseCopied, PhaseIndexed, PhaseVerified, PhaseSwapped, PhaseFinished}

// Runner names registered with the executor.
const (
	RunnerCopy     = "partition.copy"
	RunnerVerify   = "partition.verify"
	RunnerCutover  = "partition.cutover"
	RunnerRollback = "partition.rollback"
)

// Names of pgmedic's objects for one conversion.
func (s *Spec) id() int64       { return int64(s.SourceOID) }
func (s *Spec) source() string  { return ident.Quote(s.Schema, s.Table) }
func (s *Spec) shadow() string  { return ident.Quote(s.Schema, s.Shadow) }
func (s *Spec) retired() string { return ident.Quote(s.Schema, s.Retired) }
func (s *Spec) logTable() string {
	return ident.Quote("pgmedic", fmt.Sprintf("partition_log_%d", s.SourceOID))
}
func (s *Spec) rlogTable() string {
	return ident.Quote("pgmedic", fmt.Sprintf("partition_rlog_%d", s.SourceOID))
}
func (s *Spec) captureFn() string {
	return ident.Quote("pgmedic", fmt.Sprintf("partition_capture_%d", s.SourceOID))
}
func (s *Spec) rcaptureFn() string {
	return ident.Quote("pgmedic", fmt.Sprintf("partition_rcapture_%d", s.SourceOID))
}
func (s *Spec) noTruncateFn() string {
	return ident.Quote("pgmedic", fmt.Sprintf("partition_no_truncate_%d", s.SourceOID))
}
func (s *Spec) shadowPK() string { return childName(s.Shadow, "pkey") }

// atOrAfter is SQL true when the conversion has reached one of the phases from p on.
func (s *Spec) atOrAfter(p string) string {
	var later []string
	seen := false
	for _, q := range phaseOrder {
		seen = seen || q == p
		if seen {
			later = append(later, ident.Literal(q))
		}
	}
	return fmt.Sprintf("SELECT EXISTS (SELECT FROM pgmedic.partition_migrations WHERE id = %d AND phase IN (%s))", s.id(), strings.Join(later, ", "))
}

func (s *Spec) setPhase(p string) string {
	return fmt.Sprintf("UPDATE pgmedic.partition_migrations SET phase = %s, updated_at = now() WHERE id = %d", ident.Literal(p), s.id())
}

// Steps is the migration as executor steps: each is skipped when done, so running the
// plan again resumes it.
func Steps(s *Spec) *finding.Plan {
	raw, _ := json.Marshal(s)
	sh, src := s.shadow(), s.source()
	p := &finding.Plan{Summary: fmt.Sprintf("convert %s into a table partitioned by %s of %s, online", src, s.Strategy, s.Column)}
	add := func(st finding.Step) { p.Steps = append(p.Steps, st) }
	add(finding.Step{Description: "record the conversion and its plan in pgmedic.partition_migrations", Kind: "ddl", Object: src,
		SQL: fmt.Sprintf(`INSERT INTO pgmedic.partition_migrations (id, source, spec, phase) VALUES (%d, %s, %s::jsonb, 'started')
ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source, spec = EXCLUDED.spec, phase = 'started', hwm = NULL, copy_done = false,
  rows_copied = 0, rows_replayed = 0, cutover_ms = NULL, started_at = now(), updated_at = now(), swapped_at = NULL, finished_at = NULL
  WHERE partition_migrations.phase IN ('finished', 'rolled_back')`, s.id(), ident.Literal(src), ident.Literal(string(raw))),
		Check: s.atOrAfter(PhaseStarted)})
	add(finding.Step{Description: "create the partitioned table " + s.Shadow + " beside the live one (not yet in use)", Kind: "ddl", Object: s.Schema + "." + s.Shadow,
		Lock: "none on " + s.Table, SQL: shadowSQL(s), Check: "SELECT to_regclass(" + ident.Literal(sh) + ") IS NOT NULL OR (" + s.atOrAfter(PhaseSwapped) + ")"})
	add(finding.Step{Description: fmt.Sprintf("create its %d partitions", len(s.Partitions)), Kind: "ddl", Object: s.Schema + "." + s.Shadow,
		Lock: "ACCESS EXCLUSIVE on the new table only", SQL: partitionsSQL(s),
		Check: fmt.Sprintf("SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(%s)) = %d OR (%s)", ident.Literal(sh), len(s.Partitions), s.atOrAfter(PhaseSwapped))})
	add(finding.Step{Description: "add the primary key (" + strings.Join(s.PrimaryKey, ", ") + ") and the unique keys, holding the partition key", Kind: "ddl",
		Object: s.Schema + "." + s.Shadow, Lock: "ACCESS EXCLUSIVE on the new table only (empty)", SQL: keysSQL(s),
		Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conname = %s) OR (%s)",
			ident.Literal(sh), ident.Literal(s.shadowPK()), s.atOrAfter(PhaseSwapped))})
	add(finding.Step{Description: "install change capture on " + s.Table + ": a trigger logs the key of every changed row to " + s.logTable(), Kind: "ddl", Object: src,
		Lock: "SHARE ROW EXCLUSIVE on " + s.Table + " (under lock_timeout, retried)", SQL: captureSQL(s, false) + ";\n" + s.setPhase(PhaseCopying),
		Check: s.atOrAfter(PhaseCopying)})
	rows := 0.0
	for _, p := range s.Partitions {
		rows += float64(p.Rows)
	}
	// Rough rates measured on a small shared machine under a writer; the plan says "about".
	add(finding.Step{Description: "copy the rows in keyset batches on " + s.PKColumn + ", replaying captured changes from the current rows", Kind: "data", Object: src,
		Lock: "ROW EXCLUSIVE on the new table; reads " + s.Table, Long: true, Runner: RunnerCopy, SQL: copySQLDoc(s), Check: s.atOrAfter(PhaseCopied),
		EstimateSeconds: rows / 150_000})
	for _, fk := range s.FKsOut {
		add(finding.Step{Description: "add foreign key " + fk.Name + " to the new table (one set-based check, not one per copied row)", Kind: "maintenance", Object: s.Schema + "." + s.Shadow,
			Lock: "SHARE ROW EXCLUSIVE on the new table and the referenced one while the rows are checked", SQL: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", sh, ident.Quote(fk.Name), fk.Def),
			Check: fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conname = %s) OR (%s)",
				ident.Literal(sh), ident.Literal(fk.Name), s.atOrAfter(PhaseSwapped))})
	}
	for _, ix := range s.Indexes {
		add(finding.Step{Description: "build index " + ix.Name + " on the new table (every partition)", Kind: "index", Object: s.Schema + "." + ix.NewName,
			Lock: "SHARE on the new table only (not yet in use)", SQL: ix.SQL, Long: true, Progress: "create_index", EstimateSeconds: rows / 1_000_000,
			Check: "SELECT to_regclass(" + ident.Literal(ident.Quote(s.Schema, ix.NewName)) + ") IS NOT NULL OR (" + s.atOrAfter(PhaseSwapped) + ")"})
	}
	add(finding.Step{Description: "analyze the new table", Kind: "maintenance", Object: s.Schema + "." + s.Shadow, Lock: "SHARE UPDATE EXCLUSIVE on the new table",
		SQL: "ANALYZE " + sh + ";\n" + s.setPhase(PhaseIndexed), Check: s.atOrAfter(PhaseIndexed)})
	add(finding.Step{Description: "verify: counts per range, content hashes per chunk, keys missing either way (changes still in the log excluded)", Kind: "data",
		Object: src, Lock: "none (one REPEATABLE READ snapshot)", Long: true, Runner: RunnerVerify, EstimateSeconds: rows / 300_000,
		SQL: "-- compare " + src + " with " + sh + " chunk by chunk in one snapshot", Check: s.atOrAfter(PhaseVerified)})
	add(finding.Step{Description: "cut over: drain the log, swap the names, move sequences, views, grants, policies and triggers, start reverse capture", Kind: "ddl",
		Object: src, Lock: "ACCESS EXCLUSIVE on " + s.Table + " for the cut-over only (under lock_timeout, retried)", Runner: RunnerCutover,
		SQL: cutoverDoc(s), Check: s.atOrAfter(PhaseSwapped)})
	return p
}

func shadowSQL(s *Spec) string {
	var b strings.Builder
	strategy := map[string]string{"range": "RANGE", "hash": "HASH", "list": "LIST"}[s.Strategy]
	fmt.Fprintf(&b, "CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS INCLUDING COMPRESSION) PARTITION BY %s (%s)",
		s.shadow(), s.source(), strategy, ident.Quote(s.Column))
	if s.Identity != nil {
		fmt.Fprintf(&b, ";\nALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY", s.shadow(), ident.Quote(s.Identity.Column), s.Identity.Kind)
	}
	fmt.Fprintf(&b, ";\nALTER TABLE %s OWNER TO %s", s.shadow(), ident.Quote(s.Owner))
	return b.String()
}

func partitionsSQL(s *Spec) string {
	var lines []string
	for _, p := range s.Partitions {
		lines = append(lines, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s %s", ident.Quote(s.Schema, p.Name), s.shadow(), p.Bound))
	}
	return strings.Join(lines, ";\n")
}

func keysSQL(s *Spec) string {
	lines := []string{fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)", s.shadow(), ident.Quote(s.shadowPK()), quoteList(s.PrimaryKey))}
	for _, u := range s.Uniques {
		if u.Constraint {
			lines = append(lines, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (%s)", s.shadow(), ident.Quote(u.NewName), quoteList(u.Columns)))
		} else {
			lines = append(lines, fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", ident.Quote(u.NewName), s.shadow(), quoteList(u.Columns)))
		}
	}
	return strings.Join(lines, ";\n")
}

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = ident.Quote(c)
	}
	return strings.Join(q, ", ")
}

// captureSQL creates the log table, the capture function and the triggers: forward on
// the source, or reverse on the new table after the cut-over.
func captureSQL(s *Spec, reverse bool) string {
	log, fn, trg, on := s.logTable(), s.captureFn(), "pgmedic_capture", s.source()
	if reverse {
		log, fn, trg = s.rlogTable(), s.rcaptureFn(), "pgmedic_capture_reverse"
	}
	pk, c := ident.Quote(s.PKColumn), ident.Quote(s.Column)
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pk %[3]s NOT NULL, old_c %[4]s, new_c %[4]s);
CREATE INDEX IF NOT EXISTS %[9]s ON %[1]s (pk);
CREATE OR REPLACE FUNCTION %[2]s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgmedic$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO %[1]s (pk, new_c) VALUES (NEW.%[5]s, NEW.%[6]s);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO %[1]s (pk, old_c) VALUES (OLD.%[5]s, OLD.%[6]s);
  ELSE
    INSERT INTO %[1]s (pk, old_c, new_c) VALUES (NEW.%[5]s, OLD.%[6]s, NEW.%[6]s);
    IF OLD.%[5]s IS DISTINCT FROM NEW.%[5]s THEN
      INSERT INTO %[1]s (pk, old_c) VALUES (OLD.%[5]s, OLD.%[6]s);
    END IF;
  END IF;
  RETURN NULL;
END $pgmedic$;
CREATE OR REPLACE FUNCTION %[8]s() RETURNS trigger LANGUAGE plpgsql AS $pgmedic$
BEGIN
  RAISE EXCEPTION 'pgmedic is converting this table online; TRUNCATE would be lost' USING HINT = 'finish or roll back the conversion (pgmedic partition finish|rollback) first';
END $pgmedic$;
CREATE TRIGGER %[7]s AFTER INSERT OR UPDATE OR DELETE ON %[10]s FOR EACH ROW EXECUTE FUNCTION %[2]s();
CREATE TRIGGER pgmedic_no_truncate BEFORE TRUNCATE ON %[10]s FOR EACH STATEMENT EXECUTE FUNCTION %[8]s()`,
		log, fn, s.PKType, s.ColumnType, pk, c, trg, s.noTruncateFn(), ident.Quote(strings.Trim(strings.TrimPrefix(log, `"pgmedic".`), `"`)+"_pk_idx"), on)
}

func copySQLDoc(s *Spec) string {
	cols := quoteList(s.Columns)
	return fmt.Sprintf(`-- repeated until no row is left, each batch with the high-water mark in one transaction:
-- INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s WHERE %s > $hwm ORDER BY %s LIMIT $batch;
-- and between batches, for the keys in %s: delete them from the new table, insert their current rows`,
		s.shadow(), cols, cols, s.source(), ident.Quote(s.PKColumn), ident.Quote(s.PKColumn), s.logTable())
}

func cutoverDoc(s *Spec) string {
	return fmt.Sprintf(`-- BEGIN; SET LOCAL lock_timeout; LOCK %s IN ACCESS EXCLUSIVE MODE;
-- apply what is left in %s;
-- ALTER TABLE %s RENAME TO %s; ALTER TABLE %s RENAME TO %s;
-- constraint and index names, identity and sequences, views, grants, policies, triggers;
-- reverse capture into %s; COMMIT`, s.source(), s.logTable(), s.source(), ident.Quote(s.Retired), s.shadow(), ident.Quote(s.Table), s.rlogTable())
}
