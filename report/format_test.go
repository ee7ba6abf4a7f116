package report

import (
	"math"
	"testing"
	"time"
)

func TestFormatHelpers(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1250000: "1250000", 1.42e9: "1420000000", 182.4567: "182.46", 2.5: "2.5",
		0.6625: "0.662", 0.000123: "0.000123", -3: "-3", math.Inf(1): "+Inf",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
	for b, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 12 << 30: "12 GiB", 8.6e9: "8 GiB"} {
		if got := humanBytes(b); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", b, got, want)
		}
	}
	for ms, want := range map[float64]string{0.4999: "0.5 ms", 182.4: "182 ms", 12500: "12.5 s", 451000: "7.5 min", 8796000: "2.4 h"} {
		if got := humanMs(ms); got != want {
			t.Errorf("humanMs(%v) = %q, want %q", ms, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 902113: "902,113", -1234567: "-1,234,567"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
	if got, want := sentences("Title", "", "Detail ends.", "Do this"), "Title. Detail ends. Do this."; got != want {
		t.Errorf("sentences = %q, want %q", got, want)
	}
	if got, want := serverLine(Server{Version: "15.18", InRecovery: true, Host: "db1"}), "PostgreSQL 15.18 (standby) on db1"; got != want {
		t.Errorf("serverLine = %q, want %q", got, want)
	}
	if got := collectedLine(time.Time{}); got != "unknown" {
		t.Errorf("collectedLine(zero) = %q", got)
	}
}
