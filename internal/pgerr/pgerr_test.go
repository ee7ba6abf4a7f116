package pgerr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassify(t *testing.T) {
	lock := fmt.Errorf("building: %w", &pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"})
	if !LockTimeout(lock) || !Retryable(lock) || Privilege(lock) || Code(lock) != "55P03" {
		t.Error("a wrapped lock timeout")
	}
	if !Privilege(&pgconn.PgError{Code: "42501"}) || !DataException(&pgconn.PgError{Code: "22P02"}) || Class(errors.New("x")) != "" {
		t.Error("privilege, data exception, non-server error")
	}
	if !TypeResolution(&pgconn.PgError{Code: "42P18"}) || TypeResolution(&pgconn.PgError{Code: "42P01"}) {
		t.Error("type resolution")
	}
	if !Unavailable(fmt.Errorf("read: %w", errors.New("unexpected EOF"))) || !Unavailable(&pgconn.PgError{Code: "57P01"}) ||
		!Unavailable(&pgconn.PgError{Code: "08006"}) || Unavailable(&pgconn.PgError{Code: "42P01"}) ||
		Unavailable(fmt.Errorf("q: %w", context.Canceled)) || Unavailable(nil) {
		t.Error("unavailable: lost connections and shutdowns only")
	}
	if Is(errors.New("55P03"), LockNotAvailable) {
		t.Error("text that looks like a code is not a server error")
	}
}
