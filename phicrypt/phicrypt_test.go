package phicrypt

import (
	"bytes"
	"errors"
	"testing"
)

func column(t *testing.T, id string) (*MasterKey, *Column) {
	t.Helper()
	m, err := NewMasterKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := m.NewDataKey(id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Unwrap(id, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func TestSealOpenAndTampering(t *testing.T) {
	_, c := column(t, "public.patients.ssn")
	ct, err := c.Seal([]byte("123-45-6789"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("6789")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	pt, err := c.Open(ct)
	if err != nil || string(pt) != "123-45-6789" {
		t.Fatalf("round trip: %q %v", pt, err)
	}
	again, _ := c.Seal([]byte("123-45-6789"))
	if bytes.Equal(ct, again) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	for i := range ct {
		bad := append([]byte(nil), ct...)
		bad[i] ^= 0x40
		if _, err := c.Open(bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("byte %d altered: %v", i, err)
		}
	}
	if _, err := c.Open(ct[:len(ct)-1]); !errors.Is(err, ErrDecrypt) {
		t.Error("truncated ciphertext opened")
	}
	// A value moved to another column does not open there, even under the same key.
	_, other := column(t, "public.patients.mrn")
	if _, err := other.Open(ct); !errors.Is(err, ErrDecrypt) {
		t.Error("ciphertext opened in another column")
	}
}

func TestWrongMasterKeyAndBlindIndex(t *testing.T) {
	m, c := column(t, "s.t.c")
	wrapped, _ := m.NewDataKey("s.t.c")
	wrong, _ := NewMasterKey(bytes.Repeat([]byte{2}, 32))
	if _, err := wrong.Unwrap("s.t.c", wrapped); err == nil {
		t.Error("a wrong master key unwrapped the data key")
	}
	if _, err := m.Unwrap("s.t.other", wrapped); err == nil {
		t.Error("a data key unwrapped for another column")
	}
	a, b := c.BlindIndex([]byte("123-45-6789")), c.BlindIndex([]byte(" 123456789 "))
	if !bytes.Equal(a, b) || len(a) != BlindIndexSize {
		t.Error("blind index differs for the same SSN written two ways")
	}
	if bytes.Equal(a, c.BlindIndex([]byte("123-45-6780"))) {
		t.Error("blind index equal for different values")
	}
	if _, err := NewMasterKey(make([]byte, 16)); err == nil {
		t.Error("a 16-byte master key was accepted")
	}
}
