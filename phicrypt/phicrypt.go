// Package phicrypt encrypts PHI columns in the application, so the database server, its
// logs, its backups and its superusers see only ciphertext. It is envelope encryption:
// each column has its own random data key (AES-256-GCM), stored in the database only
// wrapped by a master key that stays with the application (a key file or an environment
// variable). A blind index (HMAC-SHA-256 under a key derived from the data key) lets the
// application find rows by equality without decrypting.
//
// pgmedic comply fix --encrypt moves a plaintext column into <column>_enc and
// <column>_bidx with the same format; applications then read and write through Column:
//
//	col, err := phicrypt.Open(ctx, pool, master, "public", "patients", "ssn")
//	ct, _ := col.Seal([]byte("123-45-6789"))
//	_, err = pool.Exec(ctx, "UPDATE patients SET ssn_enc = $1, ssn_bidx = $2 WHERE id = $3", ct, col.BlindIndex([]byte("123-45-6789")), id)
//	rows, _ := pool.Query(ctx, "SELECT ssn_enc FROM patients WHERE ssn_bidx = $1", col.BlindIndex(input))
package phicrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/internal/keyfile"
)

// format is the first byte of every ciphertext; a later format can be told apart.
const format byte = 1

// BlindIndexSize is the length of a blind index value: 16 bytes of HMAC-SHA-256.
const BlindIndexSize = 16

// ErrDecrypt: the ciphertext was altered, belongs to another column, or the key is wrong.
var ErrDecrypt = errors.New("phicrypt: the value does not decrypt with this column's key (altered, from another column, or the wrong key)")

// MasterKey wraps and unwraps the columns' data keys. It never leaves the process.
type MasterKey struct{ aead cipher.AEAD }

// NewMasterKey takes 32 bytes.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != keyfile.Size {
		return nil, fmt.Errorf("phicrypt: a master key has %d bytes, got %d", keyfile.Size, len(key))
	}
	a, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: a}, nil
}

// LoadMasterKey reads the master key from a file (mode 0600; raw, hex or base64).
func LoadMasterKey(path string) (*MasterKey, error) {
	k, err := keyfile.Load(path, "pgmedic backup keygen --key "+path)
	if err != nil {
		return nil, err
	}
	return NewMasterKey(k)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("phicrypt: %w", err)
	}
	return cipher.NewGCM(b)
}

// ColumnID names a column: the associated data of its ciphertexts, so a value copied into
// another column does not decrypt there.
func ColumnID(schema, table, column string) string {
	return strings.Join([]string{schema, table, column}, ".")
}

// NewDataKey makes a random data key for a column and returns it wrapped by the master
// key, ready to store.
func (m *MasterKey) NewDataKey(column string) ([]byte, error) {
	dek := make([]byte, keyfile.Size)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("phicrypt: generating a data key: %w", err)
	}
	return seal(m.aead, dek, []byte("data key "+column))
}

// Column encrypts and decrypts one column's values.
type Column struct {
	id    string
	aead  cipher.AEAD
	index []byte // blind index key
}

// Unwrap opens a column's wrapped data key.
func (m *MasterKey) Unwrap(column string, wrapped []byte) (*Column, error) {
	dek, err := open(m.aead, wrapped, []byte("data key "+column))
	if err != nil {
		return nil, fmt.Errorf("phicrypt: the master key does not open the data key of %s (a different master key?)", column)
	}
	a, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	idx, err := hkdf.Key(sha256.New, dek, nil, "pgmedic blind index "+column, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("phicrypt: deriving the blind index key: %w", err)
	}
	return &Column{id: column, aead: a, index: idx}, nil
}

// Seal encrypts a value: format byte, 12-byte random nonce, ciphertext and tag.
func (c *Column) Seal(plaintext []byte) ([]byte, error) { return seal(c.aead, plaintext, []byte(c.id)) }

// Open decrypts a value sealed for this column.
func (c *Column) Open(ciphertext []byte) ([]byte, error) {
	return open(c.aead, ciphertext, []byte(c.id))
}

// BlindIndex is the equality-lookup value of a plaintext: HMAC-SHA-256 of its normal form
// (white space, hyphens and dots removed, upper case), truncated to 16 bytes, so
// "123-45-6789" and "123456789" find the same row.
func (c *Column) BlindIndex(plaintext []byte) []byte {
	mac := hmac.New(sha256.New, c.index)
	mac.Write([]byte(Normalize(string(plaintext))))
	return mac.Sum(nil)[:BlindIndexSize]
}

// Normalize is the form blind indexes are computed on.
func Normalize(s string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '-', '.':
			return -1
		}
		return r
	}, s))
}

func seal(a cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plaintext)+a.Overhead())
	out[0] = format
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("phicrypt: nonce: %w", err)
	}
	return a.Seal(out, out[1:], plaintext, aad), nil
}

func open(a cipher.AEAD, ct, aad []byte) ([]byte, error) {
	n := a.NonceSize()
	if len(ct) < 1+n+a.Overhead() || ct[0] != format {
		return nil, ErrDecrypt
	}
	pt, err := a.Open(nil, ct[1:1+n], ct[1+n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Querier is what Open reads keys with: *pgx.Conn, *pgxpool.Pool and pgx.Tx all are.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open reads a column's wrapped data key from pgmedic.column_keys and unwraps it.
func Open(ctx context.Context, q Querier, m *MasterKey, schema, table, column string) (*Column, error) {
	id := ColumnID(schema, table, column)
	var wrapped []byte
	err := q.QueryRow(ctx, "SELECT wrapped_key FROM pgmedic.column_keys WHERE column_id = $1", id).Scan(&wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("phicrypt: %s has no data key in pgmedic.column_keys (encrypt it first with pgmedic comply fix --encrypt)", id)
	}
	if err != nil {
		return nil, fmt.Errorf("phicrypt: reading the data key of %s: %w", id, err)
	}
	return m.Unwrap(id, wrapped)
}
