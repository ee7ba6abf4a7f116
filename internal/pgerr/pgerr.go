// Package pgerr classifies PostgreSQL errors by their SQLSTATE, the one place pgmedic
// decides what an error means: never by matching message text, which a server in
// another lc_messages translates.
package pgerr

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmedic/pgmedic/internal/sqlparse"
)

// SQLSTATE codes pgmedic tells apart.
const (
	LockNotAvailable      = "55P03" // lock_timeout expired, or NOWAIT
	DeadlockDetected      = "40P01"
	SerializationFailure  = "40001"
	QueryCanceled         = "57014" // statement_timeout, or a cancel request
	InsufficientPrivilege = "42501"
	InvalidPassword       = "28P01"
	InvalidAuthorization  = "28000"
	InvalidCatalogName    = "3D000" // no such database
	SyntaxError           = "42601"
	UndefinedTable        = "42P01"
	UndefinedObject       = "42704"
	DuplicateObject       = "42710"
	DuplicateTable        = "42P07"
	ObjectInUse           = "55006"
	ReadOnlyTransaction   = "25006"
	IndeterminateDatatype = "42P18"
	AmbiguousFunction     = "42725"
	UndefinedFunction     = "42883"
	DatatypeMismatch      = "42804"
	AmbiguousParameter    = "42P08"
	GroupingError         = "42803"
	AdminShutdown         = "57P01"
	CrashShutdown         = "57P02"
	CannotConnectNow      = "57P03"
)

// Code is the error's SQLSTATE, "" when it is not a server error.
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Class is the SQLSTATE's first two characters ("22" data exception, "42" syntax or
// access rule), "" when it is not a server error.
func Class(err error) string {
	if c := Code(err); len(c) >= 2 {
		return c[:2]
	}
	return ""
}

// Is reports whether err is a server error with one of the codes.
func Is(err error, codes ...string) bool {
	c := Code(err)
	for _, want := range codes {
		if c != "" && c == want {
			return true
		}
	}
	return false
}

// LockTimeout: a lock was not granted in time (lock_timeout) or a deadlock was broken;
// the statement changed nothing and may be tried again later.
func LockTimeout(err error) bool { return Is(err, LockNotAvailable, DeadlockDetected) }

// Retryable: trying the same statement again may succeed (a lock, a deadlock, a
// serialization failure).
func Retryable(err error) bool {
	return Is(err, LockNotAvailable, DeadlockDetected, SerializationFailure)
}

// Unavailable: the server or the connection to it went away (class 08, a shutdown, a
// server still starting) or the failure happened below the protocol (a refused or reset
// connection, an EOF) rather than in the statement. Context cancellation is not.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if Code(err) == "" {
		return true
	}
	return Class(err) == "08" || Is(err, AdminShutdown, CrashShutdown, CannotConnectNow)
}

// Privilege: the role may not do it.
func Privilege(err error) bool { return Is(err, InsufficientPrivilege) }

// Canceled: statement_timeout or a cancel request ended the statement.
func Canceled(err error) bool { return Is(err, QueryCanceled) }

// DataException: a value did not fit (class 22); its message can quote the value.
func DataException(err error) bool { return Class(err) == "22" }

// TypeResolution: preparing failed over parameter types, which other types may fix.
func TypeResolution(err error) bool {
	return Is(err, IndeterminateDatatype, AmbiguousFunction, UndefinedFunction, DatatypeMismatch, AmbiguousParameter, GroupingError)
}

// AlreadyExists: the object a statement creates or attaches is there already.
func AlreadyExists(err error) bool { return Is(err, DuplicateObject, DuplicateTable) }

// Safe is an error's text as it may be shown and stored: a server error keeps its
// SQLSTATE and message, without what it may quote of a value (a data exception loses
// its message, a syntax error its token), on one line. Statements pgmedic runs read and
// build on patients' rows.
func Safe(err error) string {
	if err == nil {
		return ""
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return sqlparse.OneLine(err.Error())
	}
	msg := pgErr.Message
	switch {
	case DataException(err):
		msg = "a value does not fit its column's type or function"
	case pgErr.Code == SyntaxError:
		msg = sqlparse.RedactNear(msg)
	}
	if !strings.Contains(msg, pgErr.Code) {
		msg += " (SQLSTATE " + pgErr.Code + ")"
	}
	return sqlparse.OneLine(msg)
}
