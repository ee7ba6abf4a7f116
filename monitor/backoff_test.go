package monitor

import (
	"testing"
	"time"
)

func TestNextWaitBacksOffAndRecovers(t *testing.T) {
	iv := time.Second
	slow := 0
	var waits []time.Duration
	for _, took := range []time.Duration{100 * time.Millisecond, 600 * time.Millisecond, 2 * time.Second, 3 * time.Second,
		5 * time.Second, 9 * time.Second, 200 * time.Millisecond} {
		var w time.Duration
		w, slow = nextWait(iv, took, slow)
		waits = append(waits, w)
	}
	want := []time.Duration{iv, 2 * iv, 4 * iv, 8 * iv, 8 * iv, 8 * iv, iv}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}
