package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/pgmedic/pgmedic/finding"
	"github.com/pgmedic/pgmedic/snapshot"
)

// jsonReport is the JSON layout documented in SCHEMA.md. A struct, not a map, so keys
// come out in this order every time.
type jsonReport struct {
	Version     string            `json:"version"`
	Tool        string            `json:"tool"`
	CollectedAt string            `json:"collected_at"`
	Server      Server            `json:"server"`
	Findings    []finding.Finding `json:"findings"`
	Summary     finding.Summary   `json:"summary"`
	Parts       []snapshot.Part   `json:"parts"`
}

func writeJSON(w io.Writer, v *view) error {
	r := jsonReport{
		Version:     SchemaVersion,
		Tool:        v.in.Tool,
		CollectedAt: v.in.CollectedAt.Format(time.RFC3339),
		Server:      v.in.Server,
		Findings:    v.all,
		Summary:     v.summary,
		Parts:       v.in.Parts,
	}
	// Empty lists are [] rather than null, so consumers can iterate without a check.
	if r.Findings == nil {
		r.Findings = []finding.Finding{}
	}
	if r.Parts == nil {
		r.Parts = []snapshot.Part{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Object names and queries stay readable: "<" is not an HTML hazard in a JSON file.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
