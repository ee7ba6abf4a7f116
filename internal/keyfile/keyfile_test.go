package keyfile

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadForms(t *testing.T) {
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	for name, body := range map[string][]byte{
		"raw": key, "hex": []byte(hex.EncodeToString(key) + "\n"), "b64": []byte(base64.StdEncoding.EncodeToString(key)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Load(p, "keygen")
		if err != nil || string(got) != string(key) {
			t.Errorf("%s: %v", name, err)
		}
	}
	loose := filepath.Join(dir, "loose")
	_ = os.WriteFile(loose, []byte(hex.EncodeToString(key)), 0o644)
	var ke *Error
	if _, err := Load(loose, "keygen"); !errors.As(err, &ke) || !strings.Contains(ke.Hint, "chmod 600") {
		t.Errorf("group-readable key: %v", err)
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("abc"), 0o600)
	if _, err := Load(short, "keygen"); !errors.As(err, &ke) {
		t.Errorf("short key: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), "keygen x"); !errors.As(err, &ke) || !strings.Contains(ke.Hint, "keygen x") {
		t.Errorf("missing key: %v", err)
	}
	env := map[string]string{"K": hex.EncodeToString(key), "BAD": "nope"}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	if got, err := FromEnv("K", lookup); err != nil || string(got) != string(key) {
		t.Errorf("env: %v", err)
	}
	for _, n := range []string{"BAD", "UNSET"} {
		if _, err := FromEnv(n, lookup); !errors.As(err, &ke) {
			t.Errorf("env %s: %v", n, err)
		}
	}
	gen := filepath.Join(dir, "gen")
	if err := Generate(gen); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(gen); st.Mode().Perm() != 0o600 {
		t.Errorf("generated key mode %v", st.Mode().Perm())
	}
	if err := Generate(gen); !errors.As(err, &ke) {
		t.Errorf("overwrite: %v", err)
	}
}
