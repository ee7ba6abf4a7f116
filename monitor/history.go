package monitor

import "time"

// History is kept in two rings: every point of the recent past, and one point in every
// `every` collections over the whole retention period when that would be more than
// maxPoints. Memory stays bounded whatever the interval and retention.
const (
	recentPoints = 2000
	maxPoints    = 10080
)

type history struct {
	recent *ring
	coarse *ring // nil when recent already spans the retention
	every  int
	seen   int
}

func newHistory(retention, interval time.Duration) *history {
	n := max(int(retention/interval), 2)
	if n <= recentPoints {
		return &history{recent: newRing(n), every: 1}
	}
	every := 1
	if n > maxPoints {
		every = (n + maxPoints - 1) / maxPoints
		n = maxPoints
	}
	return &history{recent: newRing(recentPoints), coarse: newRing(n), every: every}
}

func (h *history) add(p Point) {
	h.recent.add(p)
	if h.coarse != nil && h.seen%h.every == 0 {
		h.coarse.add(p)
	}
	h.seen++
}

// list returns the points oldest first: the coarse ones older than the recent ring,
// then the recent ones.
func (h *history) list() []Point {
	recent := h.recent.list()
	if h.coarse == nil || len(recent) == 0 {
		return recent
	}
	var out []Point
	for _, p := range h.coarse.list() {
		if p.At.Before(recent[0].At) {
			out = append(out, p)
		}
	}
	return append(out, recent...)
}

type ring struct {
	points []Point
	next   int
	full   bool
}

func newRing(n int) *ring { return &ring{points: make([]Point, n)} }

func (r *ring) add(p Point) {
	r.points[r.next] = p
	r.next = (r.next + 1) % len(r.points)
	if r.next == 0 {
		r.full = true
	}
}

func (r *ring) list() []Point {
	if !r.full {
		return append([]Point(nil), r.points[:r.next]...)
	}
	out := make([]Point, 0, len(r.points))
	out = append(out, r.points[r.next:]...)
	return append(out, r.points[:r.next]...)
}
