package config

import (
	"fmt"
	"strings"
	"time"
)

// RuleOverride is one parsed monitor.rules entry. The monitor knows the rule names and
// refuses unknown ones; config checks only the shape.
type RuleOverride struct {
	Rule     string
	Off      bool
	For      *time.Duration
	Severity string // "critical", "warning" or "info"; "" leaves the rule's own
}

// ParseRuleOverride reads "rule.for=30s" (or milliseconds), "rule.severity=critical" or
// "rule=off".
func ParseRuleOverride(s string) (RuleOverride, string, error) {
	left, value, ok := strings.Cut(strings.TrimSpace(s), "=")
	left, value = strings.TrimSpace(left), strings.TrimSpace(value)
	if !ok || left == "" || value == "" {
		return RuleOverride{}, "", fmt.Errorf("want rule.for=duration, rule.severity=level or rule=off")
	}
	rule, field, hasField := strings.Cut(left, ".")
	o := RuleOverride{Rule: rule}
	switch {
	case !hasField && value == "off":
		o.Off = true
	case field == "for":
		d, err := parseDuration(value, true)
		if err != nil || d < 0 {
			return RuleOverride{}, "", fmt.Errorf("for: %q is not a duration such as 30s", value)
		}
		o.For = &d
	case field == "severity":
		switch value {
		case "critical", "warning", "info":
			o.Severity = value
		default:
			return RuleOverride{}, "", fmt.Errorf("severity %q is not critical, warning or info", value)
		}
	default:
		return RuleOverride{}, "", fmt.Errorf("want rule.for=duration, rule.severity=level or rule=off")
	}
	return o, field, nil
}
