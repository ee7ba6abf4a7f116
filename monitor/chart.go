package monitor

import (
	"fmt"
	"strings"
)

const (
	chartW = 320
	chartH = 80
)

// Chart draws points as an inline SVG line. It is built from numbers only (no text from
// the database), with presentation attributes rather than style attributes, so a strict
// CSP needs no 'unsafe-inline'; the result is safe to embed in HTML as is.
func Chart(points []Point, value func(Point) (float64, bool)) string {
	var xs, ys []float64
	lo, hi := 0.0, 0.0
	if len(points) < 2 {
		return fmt.Sprintf(`<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img"><text x="8" y="44" fill="#888">collecting…</text></svg>`,
			chartW, chartH, chartW, chartH)
	}
	t0, t1 := points[0].At, points[len(points)-1].At
	span := t1.Sub(t0).Seconds()
	for _, p := range points {
		v, ok := value(p)
		if !ok {
			continue
		}
		if len(ys) == 0 || v > hi {
			hi = v
		}
		if len(ys) == 0 || v < lo {
			lo = v
		}
		xs = append(xs, p.At.Sub(t0).Seconds())
		ys = append(ys, v)
	}
	lo = min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`, chartW, chartH+14, chartW, chartH+14)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#ccc"/>`, chartH, chartW, chartH)
	b.WriteString(`<polyline fill="none" stroke="#2a6f97" stroke-width="1.5" points="`)
	for i := range xs {
		x := 0.0
		if span > 0 {
			x = xs[i] / span * chartW
		}
		y := chartH - (ys[i]-lo)/(hi-lo)*(chartH-4)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	b.WriteString(`"/>`)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-size="10" fill="#555">max %.4g · now %.4g · %s</text>`, chartH+12, hi, last(ys), fmtSpan(span))
	b.WriteString(`</svg>`)
	return b.String()
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func fmtSpan(secs float64) string {
	switch {
	case secs < 120:
		return fmt.Sprintf("last %.0fs", secs)
	case secs < 7200:
		return fmt.Sprintf("last %.0fmin", secs/60)
	case secs < 2*86400:
		return fmt.Sprintf("last %.1fh", secs/3600)
	}
	return fmt.Sprintf("last %.1fd", secs/86400)
}
