package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// codeOf maps each domain error class to its status code. The gateway turns
// these into HTTP: InvalidArgument and FailedPrecondition 400, NotFound 404,
// AlreadyExists and Aborted 409, Unavailable 503.
var codeOf = []struct {
	class error
	code  codes.Code
}{
	{ledger.ErrInvalidArgument, codes.InvalidArgument},
	{ledger.ErrNotFound, codes.NotFound},
	{ledger.ErrConflict, codes.AlreadyExists},
	{ledger.ErrFailedPrecondition, codes.FailedPrecondition},
	{ledger.ErrUnavailable, codes.Unavailable},
	// A unique constraint caught a race the store did not retry away; the
	// client's retry (same idempotency key) resolves it.
	{ledger.ErrDuplicate, codes.Aborted},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// toStatus is the one place domain errors become gRPC errors. Errors of no
// known class are logged and hidden behind a generic Internal so that
// driver messages never reach a client.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, m := range codeOf {
		if !errors.Is(err, m.class) {
			continue
		}
		msg := err.Error()
		switch m.code {
		case codes.Unavailable:
			log.WarnContext(ctx, "transient store error", "err", err)
			msg = "the ledger store is unavailable; retry with the same idempotency key"
			// A store that knows why says so (the disk is full, read-only).
			var ue *ledger.UnavailableError
			if errors.As(err, &ue) {
				msg = ue.Message + "; retry with the same idempotency key"
			}
		case codes.Aborted:
			log.WarnContext(ctx, "write conflict", "err", err)
			msg = "a concurrent write conflicted; retry with the same idempotency key"
		case codes.Canceled:
			msg = "the request was cancelled"
		case codes.DeadlineExceeded:
			// Driver errors wrapping the deadline can quote hosts and users.
			msg = "the request deadline passed"
		}
		st := status.New(m.code, msg)
		var d *ledger.Error
		if m.code == codes.InvalidArgument && errors.As(err, &d) && d.Field != "" {
			br := &errdetails.BadRequest{}
			for _, v := range d.Violations() {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
					Field: v.Field, Description: v.Message})
			}
			if withDetails, derr := st.WithDetails(br); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
