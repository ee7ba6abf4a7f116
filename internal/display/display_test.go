package display

import (
	"strings"
	"testing"
)

func TestShorten(t *testing.T) {
	cases := map[string]string{
		"SELECT  *\n FROM t":               "SELECT * FROM t",
		"SELECT 'é é é é é é é é é é é é'": "SELECT 'é é...",
	}
	for in, want := range cases {
		if got := Shorten(in, 15); got != want {
			t.Errorf("Shorten(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"plain\ttext\n":        "plain\ttext\n",
		"red \x1b[31mtext":     `red \x1b[31mtext`,
		"over\rwrite":          `over\x0dwrite`,
		"bad \xff byte":        `bad \xff byte`,
		"bidi \u202e reversed": `bidi \u202e reversed`,
		"patient naïve café":   "patient naïve café",
	}
	for in, want := range cases {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	s := "café \x1b[2J"
	for i := 0; i < len(s); i++ { // one byte at a time: é arrives in two writes
		w.Write([]byte{s[i]})
	}
	if b.String() != `café \x1b[2J` {
		t.Errorf("got %q", b.String())
	}
}
