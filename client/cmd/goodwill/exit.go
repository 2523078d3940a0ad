package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes. Scripts branch on them, so they are part of the interface:
// the root command's help and the README list them, and the tests pin each.
const (
	exitOK          = 0
	exitError       = 1 // anything not below
	exitUsage       = 2 // bad flags or arguments, or the server's INVALID_ARGUMENT
	exitNotFound    = 3 // NOT_FOUND
	exitPermission  = 4 // UNAUTHENTICATED or PERMISSION_DENIED
	exitUnavailable = 5 // UNAVAILABLE or DEADLINE_EXCEEDED: worth retrying later
)

const exitCodesHelp = `Exit codes:
  0  success
  1  any other error
  2  usage error: bad flags or arguments, or INVALID_ARGUMENT from the server
  3  not found (NOT_FOUND)
  4  no permission: UNAUTHENTICATED (no key, or an unknown or revoked one)
     or PERMISSION_DENIED (the key's role may not do this)
  5  unavailable: UNAVAILABLE or DEADLINE_EXCEEDED (the server is down, or
     did not answer within --timeout, retries included)`

// usageError is a mistake in the command line, found before any call.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is the one translation of an error into an exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if _, ok := errors.AsType[*usageError](err); ok {
		return exitUsage
	}
	st, ok := status.FromError(err)
	if !ok {
		return exitError
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return exitUsage
	case codes.NotFound:
		return exitNotFound
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitPermission
	case codes.Unavailable, codes.DeadlineExceeded:
		return exitUnavailable
	}
	return exitError
}

// errorMessage is what `goodwill: ` is followed by on stderr: a gRPC error
// names its code as the API documents it (NOT_FOUND), then the server's
// message. Whatever the message, the secrets (API keys given in any way) are
// cut out of it: an error must never echo a key, even one the server, gRPC
// or a mistyped command line quoted.
func errorMessage(err error, secrets ...string) string {
	var msg string
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK {
		name := code.Code_name[int32(st.Code())]
		if name == "" {
			name = st.Code().String()
		}
		msg = name + ": " + st.Message()
		if st.Code() == codes.Unauthenticated && len(secrets) == 0 {
			msg += " (no API key: give --token, --token-file, GOODWILL_TOKEN or a profile)"
		}
	} else {
		msg = err.Error()
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	// A key goodwill was not told about (typed where a command goes, say)
	// is still recognised by its shape; its id, which is not secret, stays.
	return keyShape.ReplaceAllString(msg, "${1}[redacted]")
}

// keyShape matches goodwilld's API keys, gwk_<id>_<secret>.
var keyShape = regexp.MustCompile(`(gwk_[0-9A-Za-z]+_)[^\s"'\x60]+`)
