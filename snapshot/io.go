package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FormatError is a file that is not a pgmedic snapshot, or one of another version.
type FormatError struct {
	Msg  string
	Hint string
}

func (e *FormatError) Error() string { return e.Msg }

// Write encodes the snapshot as indented JSON.
func Write(w io.Writer, s *Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("snapshot: writing JSON: %w", err)
	}
	return nil
}

// Read decodes a snapshot, refusing anything that is not JSON, not a snapshot, or of a
// format version this pgmedic does not know.
func Read(r io.Reader) (*Snapshot, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("snapshot: reading: %w", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, &FormatError{Msg: "the snapshot file is empty", Hint: "create one with: pgmedic collect --dsn URI > snap.json"}
	}
	var probe struct {
		FormatVersion *int    `json:"format_version"`
		Tool          *string `json:"tool"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		var syn *json.SyntaxError
		msg := "the snapshot file is not JSON"
		if errors.As(err, &syn) {
			msg = fmt.Sprintf("the snapshot file is not JSON (at byte %d: %v)", syn.Offset, err)
		}
		return nil, &FormatError{Msg: msg, Hint: "create one with: pgmedic collect --dsn URI > snap.json"}
	}
	if probe.FormatVersion == nil {
		return nil, &FormatError{Msg: "the file is JSON but not a pgmedic snapshot (it has no format_version)",
			Hint: "create one with: pgmedic collect --dsn URI > snap.json"}
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, &FormatError{
			Msg:  fmt.Sprintf("the snapshot has format version %d; this pgmedic reads version %d", *probe.FormatVersion, FormatVersion),
			Hint: "collect it again with this pgmedic, or analyse it with the pgmedic version that made it",
		}
	}
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&s); err != nil {
		return nil, &FormatError{Msg: "the snapshot is damaged: " + err.Error(), Hint: "collect it again"}
	}
	return &s, nil
}
