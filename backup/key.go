package backup

import "github.com/pgmedic/pgmedic/internal/keyfile"

// KeySize is the length of a backup key: 32 random bytes (AES-256).
const KeySize = keyfile.Size

// KeyError is a key file that cannot be used; Hint says what to do.
type KeyError = keyfile.Error

// LoadKey reads a key file: 32 bytes, raw or as hex or base64 text. A file that its
// group or others may read is refused: a key that leaks opens every backup made with it.
func LoadKey(path string) ([]byte, error) {
	return keyfile.Load(path, "pgmedic backup keygen --key "+path)
}

// GenerateKey writes a new random key to path as hex text, mode 0600. An existing file
// is never overwritten: losing a key loses every backup made with it.
func GenerateKey(path string) error { return keyfile.Generate(path) }
