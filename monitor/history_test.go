package monitor

import (
	"testing"
	"time"
)

func TestHistoryIsBoundedAndSpansRetention(t *testing.T) {
	h := newHistory(7*24*time.Hour, time.Second) // 604800 collections
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 100_000
	for i := range n {
		h.add(Point{At: start.Add(time.Duration(i) * time.Second)})
	}
	got := h.list()
	if len(got) > recentPoints+maxPoints {
		t.Fatalf("%d points kept, bound is %d", len(got), recentPoints+maxPoints)
	}
	if !got[0].At.Equal(start) {
		t.Errorf("oldest point %v, want the first collection %v (retention not yet reached)", got[0].At, start)
	}
	last := got[len(got)-recentPoints:]
	for i := 1; i < len(last); i++ {
		if last[i].At.Sub(last[i-1].At) != time.Second {
			t.Fatalf("recent points not at full resolution: %v then %v", last[i-1].At, last[i].At)
		}
	}
	if !last[len(last)-1].At.Equal(start.Add((n - 1) * time.Second)) {
		t.Errorf("newest point %v", last[len(last)-1].At)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].At.After(got[i-1].At) {
			t.Fatalf("points out of order at %d", i)
		}
	}

	small := newHistory(10*time.Second, time.Second)
	for i := range 25 {
		small.add(Point{At: start.Add(time.Duration(i) * time.Second)})
	}
	if l := small.list(); len(l) != 10 || !l[0].At.Equal(start.Add(15*time.Second)) {
		t.Errorf("retention of 10 points kept %d, oldest %v", len(l), l[0].At)
	}
}
