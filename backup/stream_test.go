package backup

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t *testing.T, key, data, trailer []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes cross record boundaries.
	for p := data; len(p) > 0; {
		n := min(len(p), 777_777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Finish(trailer); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func open(key, file []byte) ([]byte, []byte, error) {
	r, err := NewReader(bytes.NewReader(file), key)
	if err != nil {
		return nil, nil, err
	}
	out, err := io.ReadAll(r)
	return out, r.Trailer(), err
}

// records returns the offset of each record in an encrypted file.
func records(file []byte) []int {
	var offs []int
	for off := headerSize; off < len(file); {
		offs = append(offs, off)
		off += recHdrSize + int(binary.BigEndian.Uint32(file[off+1:off+5]))
	}
	return offs
}

func TestStreamRoundTrip(t *testing.T) {
	key := testKey(t)
	data := make([]byte, 3*ChunkSize+12345)
	rand.Read(data)
	file := seal(t, key, data, []byte(`{"format":1}`))
	got, trailer, err := open(key, file)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if !bytes.Equal(got, data) || string(trailer) != `{"format":1}` {
		t.Fatalf("round trip lost data: %d of %d bytes, trailer %q", len(got), len(data), trailer)
	}
	if n := len(records(file)); n != 5 {
		t.Fatalf("want 4 data records and a trailer, got %d records", n)
	}
	// Nothing of the plaintext survives: a 64-byte run of it is not in the file.
	if bytes.Contains(file, data[1000:1064]) {
		t.Fatal("plaintext found in the encrypted file")
	}
	empty := seal(t, key, nil, []byte("t"))
	if got, tr, err := open(key, empty); err != nil || len(got) != 0 || string(tr) != "t" {
		t.Fatalf("empty stream: %v %d %q", err, len(got), tr)
	}
}

func TestStreamRefusals(t *testing.T) {
	key := testKey(t)
	data := make([]byte, 2*ChunkSize+500)
	rand.Read(data)
	file := seal(t, key, data, []byte("trailer"))
	offs := records(file)

	flipped := bytes.Clone(file)
	flipped[offs[1]+100] ^= 0x01
	flippedHeader := bytes.Clone(file)
	flippedHeader[13] ^= 0x01 // the chunk size field, bound into every record
	reordered := append(append(append(bytes.Clone(file[:offs[0]]), file[offs[1]:offs[2]]...), file[offs[0]:offs[1]]...), file[offs[2]:]...)
	dropped := append(bytes.Clone(file[:offs[1]]), file[offs[2]:]...)
	falseFinal := bytes.Clone(file[:offs[3]])
	falseFinal[offs[2]] |= finalFlag
	other := testKey(t)

	cases := []struct {
		name string
		file []byte
		key  []byte
		want error
	}{
		{"truncated at a record boundary", file[:offs[3]], key, ErrTruncated},
		{"truncated inside a record", file[:offs[1]+1000], key, ErrTruncated},
		{"truncated inside the header", file[:40], key, ErrNotBackup},
		{"one flipped byte", flipped, key, ErrDamaged},
		{"flipped header byte", flippedHeader, key, ErrDamaged},
		{"records swapped", reordered, key, ErrDamaged},
		{"record dropped", dropped, key, ErrDamaged},
		{"false final flag", falseFinal, key, ErrDamaged},
		{"data after the end", append(bytes.Clone(file), 0), key, ErrTrailing},
		{"wrong key", file, other, ErrWrongKey},
		{"not a backup", []byte("PGDMP\x01\x0e\x00 plain pg_dump archive of some length ......................"), key, ErrNotBackup},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := open(c.key, c.file)
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	raw := testKey(t)
	write := func(name string, content []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	for name, content := range map[string][]byte{
		"raw":    raw,
		"hex":    []byte(hex.EncodeToString(raw) + "\n"),
		"base64": []byte(base64.StdEncoding.EncodeToString(raw) + "\n"),
	} {
		k, err := LoadKey(write(name, content, 0o600))
		if err != nil || !bytes.Equal(k, raw) {
			t.Fatalf("%s key: %v", name, err)
		}
	}
	var ke *KeyError
	if _, err := LoadKey(write("open", []byte(hex.EncodeToString(raw)), 0o644)); !errors.As(err, &ke) || ke.Hint == "" {
		t.Fatalf("a key readable by others must be refused with a hint, got %v", err)
	}
	if _, err := LoadKey(write("group", []byte(hex.EncodeToString(raw)), 0o640)); !errors.As(err, &ke) {
		t.Fatalf("a key readable by the group must be refused, got %v", err)
	}
	if _, err := LoadKey(write("short", raw[:16], 0o600)); !errors.As(err, &ke) {
		t.Fatalf("a 16-byte key must be refused, got %v", err)
	}
	if _, err := LoadKey(filepath.Join(dir, "absent")); !errors.As(err, &ke) {
		t.Fatalf("a missing key file must be a KeyError, got %v", err)
	}
	gen := filepath.Join(dir, "gen.key")
	if err := GenerateKey(gen); err != nil {
		t.Fatal(err)
	}
	k1, err := LoadKey(gen)
	if err != nil {
		t.Fatalf("a generated key must load: %v", err)
	}
	if err := GenerateKey(gen); !errors.As(err, &ke) {
		t.Fatalf("an existing key must never be replaced, got %v", err)
	}
	if k2, _ := LoadKey(gen); !bytes.Equal(k1, k2) {
		t.Fatal("the key file changed")
	}
}
