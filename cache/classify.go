package cache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgmedic/pgmedic/healthcare"
	"github.com/pgmedic/pgmedic/pgconn"
)

// classify reads each table's columns and foreign keys and asks the healthcare
// classifier whether it holds PHI.
func (c *Cache) classify(ctx context.Context) error {
	cls, err := healthcare.New(c.o.Healthcare)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	conn, err := pgconn.Connect(ctx, c.o.ListenDSN, c.o.Policy)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, t := range c.o.Tables {
		if t.Schema == "" {
			t.Schema = "public"
		}
		in, err := describeTable(ctx, conn, t)
		if err != nil {
			return err
		}
		tc := cls.Table(in)
		st := &tableState{Table: t, phi: tc.PHI, reason: strings.Join(tc.Reasons, "; ")}
		c.tables[t.qualified()] = st
	}
	return nil
}

func describeTable(ctx context.Context, conn *pgx.Conn, t Table) (healthcare.TableInput, error) {
	in := healthcare.TableInput{Schema: t.Schema, Name: t.Name}
	rows, err := conn.Query(ctx, pgconn.Marker+`SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
		FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))
		  AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, t.Schema, t.Name)
	if err != nil {
		return in, fmt.Errorf("cache: reading the columns of %s: %w", t.qualified(), err)
	}
	for rows.Next() {
		var col healthcare.ColumnInput
		if err := rows.Scan(&col.Name, &col.Type); err != nil {
			rows.Close()
			return in, fmt.Errorf("cache: reading the columns of %s: %w", t.qualified(), err)
		}
		in.Columns = append(in.Columns, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("cache: reading the columns of %s: %w", t.qualified(), err)
	}
	if len(in.Columns) == 0 {
		return in, fmt.Errorf("cache: table %s does not exist", t.qualified())
	}
	refs, err := conn.Query(ctx, pgconn.Marker+`SELECT n.nspname || '.' || r.relname FROM pg_catalog.pg_constraint k
		JOIN pg_catalog.pg_class r ON r.oid = k.confrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
		WHERE k.contype = 'f' AND k.conrelid = pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))`, t.Schema, t.Name)
	if err != nil {
		return in, fmt.Errorf("cache: reading the foreign keys of %s: %w", t.qualified(), err)
	}
	in.References, err = pgx.CollectRows(refs, pgx.RowTo[string])
	if err != nil {
		return in, fmt.Errorf("cache: reading the foreign keys of %s: %w", t.qualified(), err)
	}
	return in, nil
}

// PHI reports whether the cache classified table as holding PHI, and why.
func (c *Cache) PHI(table string) (bool, string) {
	t := c.table(table)
	if t == nil {
		return false, ""
	}
	return t.phi, t.reason
}

// sealer encrypts PHI entries; the entry's key name is bound in, so an entry copied
// under another key does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("cache: caching PHI needs a 32-byte PHIKey to encrypt it")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails: crypto/rand ends the program rather than return an error
	return s.aead.Seal(nonce, nonce, plain, ad)
}

func (s *sealer) open(box, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(box) < n {
		return nil, errors.New("cache: sealed entry too short")
	}
	return s.aead.Open(nil, box[:n], box[n:], ad)
}
