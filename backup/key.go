package backup

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// KeySize is the length of a backup key: 32 random bytes (AES-256).
const KeySize = 32

// KeyError is a key file that cannot be used; Hint says what to do.
type KeyError struct {
	Path string
	Msg  string
	Hint string
}

func (e *KeyError) Error() string { return fmt.Sprintf("key file %s: %s", e.Path, e.Msg) }

// LoadKey reads a key file: 32 bytes, raw or as hex or base64 text (a trailing newline
// is allowed). A file that its group or others may read is refused: a key that leaks
// opens every backup made with it.
func LoadKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &KeyError{Path: path, Msg: "does not exist", Hint: "create one with 'pgmedic backup keygen --key " + path + "'"}
		}
		return nil, &KeyError{Path: path, Msg: err.Error(), Hint: "check the path and its permissions"}
	}
	if !st.Mode().IsRegular() {
		return nil, &KeyError{Path: path, Msg: "is not a regular file", Hint: "give the path of a key file"}
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, &KeyError{Path: path, Msg: fmt.Sprintf("is readable by others (mode %04o)", st.Mode().Perm()),
			Hint: "run 'chmod 600 " + path + "'"}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &KeyError{Path: path, Msg: err.Error(), Hint: "check the path and its permissions"}
	}
	key, ok := decodeKey(raw)
	if !ok {
		return nil, &KeyError{Path: path, Msg: "does not hold a 32-byte key (raw, hex or base64)",
			Hint: "create one with 'pgmedic backup keygen --key FILE'"}
	}
	return key, nil
}

func decodeKey(raw []byte) ([]byte, bool) {
	if len(raw) == KeySize {
		return raw, true
	}
	text := bytes.TrimSpace(raw)
	if len(text) == 2*KeySize {
		if k, err := hex.DecodeString(string(text)); err == nil {
			return k, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(string(text)); err == nil && len(k) == KeySize {
			return k, true
		}
	}
	return nil, false
}

// GenerateKey writes a new random key to path as hex text, mode 0600. An existing file
// is never overwritten: losing a key loses every backup made with it.
func GenerateKey(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("backup: generating a key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return &KeyError{Path: path, Msg: "already exists", Hint: "choose another path; an existing key is never replaced"}
		}
		return fmt.Errorf("backup: creating key file %s: %w", path, err)
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: writing key file %s: %w", path, err)
	}
	return nil
}
