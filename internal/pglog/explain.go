package pglog

import (
	"bytes"
	"encoding/json"
	"html"
	"regexp"
	"strings"
)

// planRoot matches the first line of a text plan: auto_explain always shows costs, and
// the root node is not indented ("Seq Scan on p  (cost=0.00..25.88 rows=423 width=36)").
var planRoot = regexp.MustCompile(`^\S.*  \(cost=\d+\.\d+\.\.\d+\.\d+ rows=\d+ width=\d+\)`)

// splitPlan separates what auto_explain logs after "plan:" into the query text, the
// plan without the query text and parameters, and the number of parameters listed
// (PostgreSQL 16+ logs "Query Parameters"). problem is "" on success.
func splitPlan(body string) (query, plan string, params int, problem string) {
	body = strings.TrimPrefix(body, "\n")
	switch {
	case strings.HasPrefix(body, "{"):
		return splitJSONPlan(body)
	case strings.HasPrefix(body, "<explain"):
		return splitXMLPlan(body)
	case strings.HasPrefix(body, `Query Text: "`) && isYAMLPlan(body):
		return splitYAMLPlan(body)
	case strings.HasPrefix(body, "Query Text: "):
		return splitTextPlan(body)
	}
	return "", "", 0, "auto_explain plan without a query text"
}

func splitTextPlan(body string) (query, plan string, params int, problem string) {
	lines := strings.SplitAfter(body, "\n")
	// The query text can span lines: it ends where the parameters or the plan begin.
	end := 1
	for end < len(lines) && !strings.HasPrefix(lines[end], "Query Parameters: ") && !planRoot.MatchString(lines[end]) {
		end++
	}
	if end == len(lines) {
		end = 1 // no recognisable root: take the usual one-line query text
	}
	query = strings.TrimSuffix(strings.TrimPrefix(strings.Join(lines[:end], ""), "Query Text: "), "\n")
	rest := strings.Join(lines[end:], "")
	if list, ok := strings.CutPrefix(rest, "Query Parameters: "); ok {
		n, stop := countParams(list)
		if n == 0 {
			return "", "", 0, "unreadable auto_explain parameter list"
		}
		params = n
		rest = strings.TrimPrefix(list[stop:], "\n")
	}
	if strings.TrimSpace(rest) == "" {
		return "", "", 0, "auto_explain plan without a plan"
	}
	return query, rest, params, ""
}

func splitJSONPlan(body string) (query, plan string, params int, problem string) {
	const bad = "malformed auto_explain JSON plan"
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", 0, bad
	}
	// Rebuild the object without the query text and parameters, keeping the order of
	// the other members.
	var out bytes.Buffer
	out.WriteByte('{')
	haveQuery := false
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return "", "", 0, bad
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", "", 0, bad
		}
		switch key {
		case "Query Text":
			if err := json.Unmarshal(raw, &query); err != nil {
				return "", "", 0, bad
			}
			haveQuery = true
		case "Query Parameters":
			var list string
			if err := json.Unmarshal(raw, &list); err != nil {
				return "", "", 0, bad
			}
			params, _ = countParams(list)
		default:
			if out.Len() > 1 {
				out.WriteByte(',')
			}
			k, _ := json.Marshal(key)
			out.Write(k)
			out.WriteByte(':')
			out.Write(raw)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "", "", 0, bad
	}
	if _, err := dec.Token(); err == nil {
		return "", "", 0, bad // something after the object
	}
	if !haveQuery {
		return "", "", 0, "auto_explain plan without a query text"
	}
	out.WriteByte('}')
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out.Bytes(), "", "  "); err != nil {
		return "", "", 0, bad
	}
	return query, pretty.String(), params, ""
}

// isYAMLPlan tells a YAML plan (whose query text is a quoted string followed by a
// "Plan:" line) from a text plan.
func isYAMLPlan(body string) bool {
	first, _, _ := strings.Cut(body, "\n")
	var s string
	return json.Unmarshal([]byte(strings.TrimPrefix(first, "Query Text: ")), &s) == nil &&
		(strings.Contains(body, "\nPlan:") || strings.HasPrefix(body, "Plan:"))
}

func splitYAMLPlan(body string) (query, plan string, params int, problem string) {
	var kept []string
	for _, line := range strings.SplitAfter(body, "\n") {
		// PostgreSQL quotes YAML strings as JSON strings, on one line.
		if v, ok := strings.CutPrefix(line, "Query Text: "); ok {
			if json.Unmarshal([]byte(strings.TrimSpace(v)), &query) != nil {
				return "", "", 0, "malformed auto_explain YAML plan"
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "Query Parameters: "); ok {
			var list string
			if json.Unmarshal([]byte(strings.TrimSpace(v)), &list) != nil {
				return "", "", 0, "malformed auto_explain YAML plan"
			}
			params, _ = countParams(list)
			continue
		}
		kept = append(kept, line)
	}
	plan = strings.Join(kept, "")
	if strings.TrimSpace(plan) == "" {
		return "", "", 0, "auto_explain plan without a plan"
	}
	return query, plan, params, ""
}

var (
	xmlQueryText  = regexp.MustCompile(`(?s)\n?[ \t]*<Query-Text>(.*?)</Query-Text>`)
	xmlParameters = regexp.MustCompile(`(?s)\n?[ \t]*<Query-Parameters>(.*?)</Query-Parameters>`)
)

func splitXMLPlan(body string) (query, plan string, params int, problem string) {
	m := xmlQueryText.FindStringSubmatchIndex(body)
	if m == nil {
		return "", "", 0, "auto_explain plan without a query text"
	}
	query = html.UnescapeString(body[m[2]:m[3]])
	plan = body[:m[0]] + body[m[1]:]
	if p := xmlParameters.FindStringSubmatchIndex(plan); p != nil {
		params, _ = countParams(html.UnescapeString(plan[p[2]:p[3]]))
		plan = plan[:p[0]] + plan[p[1]:]
	}
	if !strings.Contains(plan, "<Plan>") {
		return "", "", 0, "auto_explain plan without a plan"
	}
	return query, plan, params, ""
}
