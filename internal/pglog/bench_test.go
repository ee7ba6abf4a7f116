package pglog

import (
	"bytes"
	"strings"
	"testing"
)

// benchLog repeats a realistic mix of stderr messages to about size bytes.
func benchLog(size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		b.WriteString(pgBadgerLog)
		b.WriteString("2024-05-01 10:00:07 UTC [202]: [12-1] user=clin,db=ehr,app=ward app,client=10.0.0.7 LOG:  duration: 3.000 ms  statement: SELECT '" + strings.Repeat("y", 4000) + "'\n")
	}
	return b.Bytes()
}

func BenchmarkParseStderr(b *testing.B) {
	log := benchLog(8 << 20)
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		if _, _, err := Parse(bytes.NewReader(log), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
