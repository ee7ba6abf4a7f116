package synth

import "strconv"

// rowWriter appends rows in COPY text format. Hand-formatting beats pgx's generic
// encoder here: the generator produces millions of values and the server parses text
// about as fast as binary for these types.
type rowWriter struct {
	buf  []byte
	rows int64
	col  int
}

func (w *rowWriter) sep() {
	if w.col > 0 {
		w.buf = append(w.buf, '\t')
	}
	w.col++
}

func (w *rowWriter) end() {
	w.buf = append(w.buf, '\n')
	w.col = 0
	w.rows++
}

func (w *rowWriter) reset() {
	w.buf = w.buf[:0]
	w.rows = 0
	w.col = 0
}

func (w *rowWriter) null() {
	w.sep()
	w.buf = append(w.buf, '\\', 'N')
}

func (w *rowWriter) int(v int64) {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, v, 10)
}

func (w *rowWriter) boolean(b bool) {
	w.sep()
	if b {
		w.buf = append(w.buf, 't')
	} else {
		w.buf = append(w.buf, 'f')
	}
}

// str writes s, escaping what COPY text format gives meaning to.
func (w *rowWriter) str(s string) {
	w.sep()
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			w.buf = append(w.buf, '\\', '\\')
		case '\t':
			w.buf = append(w.buf, '\\', 't')
		case '\n':
			w.buf = append(w.buf, '\\', 'n')
		case '\r':
			w.buf = append(w.buf, '\\', 'r')
		default:
			w.buf = append(w.buf, c)
		}
	}
}

// strOrNull writes s, or NULL when s is empty.
func (w *rowWriter) strOrNull(s string) {
	if s == "" {
		w.null()
		return
	}
	w.str(s)
}

// cents writes an amount in cents as a numeric with two decimals.
func (w *rowWriter) cents(c int64) {
	w.sep()
	if c < 0 {
		w.buf = append(w.buf, '-')
		c = -c
	}
	w.buf = strconv.AppendInt(w.buf, c/100, 10)
	w.buf = append(w.buf, '.', byte('0'+c%100/10), byte('0'+c%10))
}

// date writes a day number (days since 1970-01-01) as YYYY-MM-DD.
func (w *rowWriter) date(day int64) {
	w.sep()
	w.buf = appendDate(w.buf, day)
}

// timestamp writes Unix seconds as a UTC timestamptz.
func (w *rowWriter) timestamp(sec int64) {
	w.sep()
	day := floorDiv(sec, 86400)
	rem := sec - day*86400
	w.buf = appendDate(w.buf, day)
	w.buf = append(w.buf, ' ')
	w.buf = append2(w.buf, rem/3600)
	w.buf = append(w.buf, ':')
	w.buf = append2(w.buf, rem%3600/60)
	w.buf = append(w.buf, ':')
	w.buf = append2(w.buf, rem%60)
	w.buf = append(w.buf, '+', '0', '0')
}

// clock writes seconds since midnight as a time of day.
func (w *rowWriter) clock(sec int64) {
	w.sep()
	w.buf = append2(w.buf, sec/3600)
	w.buf = append(w.buf, ':')
	w.buf = append2(w.buf, sec%3600/60)
	w.buf = append(w.buf, ':', '0', '0')
}

func append2(b []byte, v int64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func appendDate(b []byte, day int64) []byte {
	y, m, d := civil(day)
	b = strconv.AppendInt(b, y, 10)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	return append2(b, d)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// algorithm), far cheaper than going through time.Time for millions of values.
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// weekday of a day number: 0 = Sunday.
func weekday(day int64) int64 {
	return ((day % 7) + 7 + 4) % 7 // 1970-01-01 was a Thursday
}
