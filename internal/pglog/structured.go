package pglog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// csvlog columns. PostgreSQL 9.0-12 write 23 (the last is application_name), 13 adds
// backend_type, 14 leader_pid and query_id: only the first 23 are read.
const (
	csvUser        = 1
	csvDatabase    = 2
	csvSeverity    = 11
	csvSQLState    = 12
	csvMessage     = 13
	csvDetail      = 14
	csvContext     = 18
	csvQuery       = 19
	csvApplication = 22
	csvMinFields   = 23
)

func parseCSV(br *bufio.Reader, out *collector) error {
	cr := csv.NewReader(br) // reuses br: it is already a large bufio.Reader
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for out.err == nil {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			// The reason names a quoting rule, never the field's content.
			out.problem(perr.StartLine, "malformed CSV record: "+perr.Err.Error())
			continue
		}
		if err != nil {
			return fmt.Errorf("pglog: reading the csvlog: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < csvMinFields {
			out.problem(line, fmt.Sprintf("CSV record has %d fields; csvlog records have 23 to 26", len(rec)))
			continue
		}
		if !isPrimary(rec[csvSeverity]) {
			out.problem(line, "CSV record without a severity in column 12")
			continue
		}
		out.interpret(&message{
			line: line, severity: rec[csvSeverity], sqlstate: rec[csvSQLState],
			user: rec[csvUser], db: rec[csvDatabase], app: rec[csvApplication],
			text: rec[csvMessage], detail: rec[csvDetail], context: rec[csvContext], stmtTxt: rec[csvQuery],
		})
	}
	return out.err
}

// jsonRecord holds the jsonlog keys pglog uses (PostgreSQL 15+ omits empty ones).
type jsonRecord struct {
	User        string `json:"user"`
	DBName      string `json:"dbname"`
	Severity    string `json:"error_severity"`
	StateCode   string `json:"state_code"`
	Message     string `json:"message"`
	Detail      string `json:"detail"`
	Context     string `json:"context"`
	Statement   string `json:"statement"`
	Application string `json:"application_name"`
}

func parseJSON(br *bufio.Reader, out *collector) error {
	lr := &lineReader{r: br}
	for out.err == nil {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace([]byte(line))) == 0 {
			continue
		}
		var rec jsonRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			out.problem(lr.line, "malformed JSON log line")
			continue
		}
		if !isPrimary(rec.Severity) {
			out.problem(lr.line, "JSON log line without an error_severity")
			continue
		}
		out.interpret(&message{
			line: lr.line, severity: rec.Severity, sqlstate: rec.StateCode,
			user: rec.User, db: rec.DBName, app: rec.Application,
			text: rec.Message, detail: rec.Detail, context: rec.Context, stmtTxt: rec.Statement,
		})
	}
	return out.err
}

// csvStart is how a csvlog record begins: log_time, then a comma.
var csvStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?( [^,]*)?,`)

// looksLikeCSV reports whether line (followed by rest) starts a csvlog record.
func looksLikeCSV(line, rest []byte) bool {
	if !csvStart.Match(line) {
		return false
	}
	// Read the first record; it may continue on the following lines.
	all := make([]byte, 0, len(line)+1+len(rest))
	all = append(append(append(all, line...), '\n'), rest...)
	cr := csv.NewReader(bytes.NewReader(all))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	// A head that cuts a long quoted field short ends in a quote error, after the
	// columns that matter here.
	cut := cr.InputOffset() >= int64(len(all))
	if err != nil && !(errors.Is(err, csv.ErrQuote) && cut) {
		return false
	}
	return len(rec) > csvSeverity && isPrimary(rec[csvSeverity]) && (len(rec) >= csvMinFields || cut)
}
