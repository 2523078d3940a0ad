package ledger

import (
	"errors"
	"fmt"
	"strings"
)

// The error classes of the domain. The API layer maps each to one status
// code; an error of no class (a store failure the backend could not
// classify) becomes a logged Internal.
var (
	// ErrInvalidArgument: the request is malformed. Error.Field names the
	// offending field.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the customer or event does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an idempotency key was reused with a different payload.
	ErrConflict = errors.New("conflict")
	// ErrFailedPrecondition: the request is well formed but the ledger's
	// state forbids it (reversing twice, reversing a reversal).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: the store cannot be reached or the outcome of a
	// commit is unknown; retrying with the same idempotency key is safe.
	ErrUnavailable = errors.New("unavailable")
)

// Errors a Store returns, besides ErrNotFound and ErrUnavailable.
var (
	// ErrDuplicate: a unique constraint (idempotency key, one reversal per
	// event) rejected a row. The Service checks first, so this surfaces only
	// from races a backend did not retry away.
	ErrDuplicate = errors.New("duplicate")
)

// Error is a domain error with the field it concerns.
type Error struct {
	Class   error
	Field   string
	Message string
	// More holds the other invalid fields of the same request, when there
	// are several: a client hears of every one at once.
	More []*Error
}

func (e *Error) Error() string {
	parts := make([]string, 0, 1+len(e.More))
	for _, x := range append([]*Error{e}, e.More...) {
		if x.Field != "" {
			parts = append(parts, x.Field+": "+x.Message)
		} else {
			parts = append(parts, x.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// Violations returns every field error e carries, each on its own: e
// (without More), then More.
func (e *Error) Violations() []*Error {
	return append([]*Error{{Class: e.Class, Field: e.Field, Message: e.Message}}, e.More...)
}

// maxViolations bounds the field errors one response lists (a batch of a
// thousand bad items needs no thousand lines).
const maxViolations = 100

// violations collects the field errors of one request.
type violations struct{ list []*Error }

// add records err if it is a field error, and reports whether it was nil.
// Errors of another kind cannot be collected: the caller returns them.
func (v *violations) add(err error) bool {
	if err == nil {
		return true
	}
	var e *Error
	if errors.As(err, &e) && e.Class == ErrInvalidArgument {
		for _, x := range e.Violations() {
			if len(v.list) < maxViolations {
				v.list = append(v.list, &Error{Class: x.Class, Field: x.Field, Message: x.Message})
			}
		}
	}
	return false
}

// err is every collected error as one, or nil.
func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	first := *v.list[0]
	first.More = v.list[1:]
	return &first
}

func (e *Error) Unwrap() error { return e.Class }

// Invalid returns an ErrInvalidArgument error naming field.
func Invalid(field, format string, args ...any) error {
	return &Error{Class: ErrInvalidArgument, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &Error{Class: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

func conflict(field, format string, args ...any) error {
	return &Error{Class: ErrConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

func precondition(format string, args ...any) error {
	return &Error{Class: ErrFailedPrecondition, Message: fmt.Sprintf(format, args...)}
}

// FieldOf returns the field an error names, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// UnavailableError is an ErrUnavailable whose Message tells the client
// what is wrong in words safe to show (the disk is full, the ledger is
// shutting down); Cause is for the logs only.
type UnavailableError struct {
	Message string
	Cause   error
}

func (e *UnavailableError) Error() string {
	if e.Cause == nil {
		return e.Message
	}
	return e.Message + ": " + e.Cause.Error()
}

func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Cause} }
