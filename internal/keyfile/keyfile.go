// Package keyfile reads and writes the 32-byte keys pgmedic encrypts with (backups,
// encrypted PHI columns): raw bytes, or hex or base64 text, in a file only its owner may
// read, or in an environment variable. Keys never reach a database server or a log.
package keyfile

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Size is the length of a key: 32 random bytes (AES-256).
const Size = 32

// Error is a key that cannot be used; Hint says what to do.
type Error struct {
	Source string // "key file /etc/pgmedic/backup.key" or "environment variable PGMEDIC_KEY"
	Msg    string
	Hint   string
}

func (e *Error) Error() string { return e.Source + ": " + e.Msg }

// Load reads a key file. A file its group or others may read is refused: a key that
// leaks opens everything encrypted with it. create is the command that makes one, for
// the hint.
func Load(path, create string) ([]byte, error) {
	src := "key file " + path
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Source: src, Msg: "does not exist", Hint: "create one with '" + create + "'"}
		}
		return nil, &Error{Source: src, Msg: err.Error(), Hint: "check the path and its permissions"}
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{Source: src, Msg: "is not a regular file", Hint: "give the path of a key file"}
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, &Error{Source: src, Msg: fmt.Sprintf("is readable by others (mode %04o)", st.Mode().Perm()),
			Hint: "run 'chmod 600 " + path + "'"}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Source: src, Msg: err.Error(), Hint: "check the path and its permissions"}
	}
	key, ok := Decode(raw)
	if !ok {
		return nil, &Error{Source: src, Msg: "does not hold a 32-byte key (raw, hex or base64)", Hint: "create one with '" + create + "'"}
	}
	return key, nil
}

// FromEnv reads a key from an environment variable as hex or base64 text.
func FromEnv(name string, lookup func(string) (string, bool)) ([]byte, error) {
	src := "environment variable " + name
	v, ok := lookup(name)
	if !ok || v == "" {
		return nil, &Error{Source: src, Msg: "is not set", Hint: "export it with 64 hex characters, or use a key file"}
	}
	key, ok := Decode([]byte(v))
	if !ok || len(bytes.TrimSpace([]byte(v))) == Size { // raw bytes are not accepted from the environment
		return nil, &Error{Source: src, Msg: "does not hold a 32-byte key as hex or base64 text", Hint: "export 64 hex characters (openssl rand -hex 32)"}
	}
	return key, nil
}

// Decode accepts 32 raw bytes, or 64 hex characters or base64 of 32 bytes (surrounding
// white space allowed).
func Decode(raw []byte) ([]byte, bool) {
	if len(raw) == Size {
		return raw, true
	}
	text := bytes.TrimSpace(raw)
	if len(text) == 2*Size {
		if k, err := hex.DecodeString(string(text)); err == nil {
			return k, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(string(text)); err == nil && len(k) == Size {
			return k, true
		}
	}
	return nil, false
}

// Generate writes a new random key to path as hex text, mode 0600. An existing file is
// never overwritten: losing a key loses everything encrypted with it.
func Generate(path string) error {
	key := make([]byte, Size)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return &Error{Source: "key file " + path, Msg: "already exists", Hint: "choose another path; an existing key is never replaced"}
		}
		return fmt.Errorf("creating key file %s: %w", path, err)
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing key file %s: %w", path, err)
	}
	return nil
}
