package display

import "testing"

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
		"over\rwrite":          `over\rwrite`,
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
