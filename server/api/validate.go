package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"buf.build/go/protovalidate"
	pvinterceptor "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
)

// newValidator builds the protovalidate validator for request messages. It
// reports every violation, not only the first, as the ledger's own checks
// do: a client fixes a request in one round trip.
func newValidator() (protovalidate.Validator, error) {
	return protovalidate.New()
}

// validateRequests returns the interceptor that checks every request
// against the protovalidate annotations in proto/ (the limits declared
// there) before the handler runs. REST requests travel through the gRPC
// port, so this covers both protocols. Its errors look like the ledger's
// (server/api/status.go): INVALID_ARGUMENT, a message "field: problem" and
// one google.rpc.BadRequest field violation. Domain rules the annotations
// cannot express stay in server/ledger and run in the handler, once these
// pass.
func validateRequests(log *slog.Logger) grpc.UnaryServerInterceptor {
	v, err := newValidator()
	if err != nil {
		// protovalidate.New only fails on bad options; none are variable.
		panic("protovalidate: " + err.Error())
	}
	check := pvinterceptor.UnaryServerInterceptor(v)
	pass := func(context.Context, any) (any, error) { return nil, nil }
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, err := check(ctx, req, info, pass); err != nil {
			return nil, validationStatus(ctx, log, err)
		}
		return handler(ctx, req)
	}
}

// validateStreams is validateRequests for streaming calls: the request of
// a server stream arrives through RecvMsg, which the handler calls first,
// so a bad request ends the call before anything is sent.
func validateStreams(log *slog.Logger) grpc.StreamServerInterceptor {
	v, err := newValidator()
	if err != nil {
		panic("protovalidate: " + err.Error())
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatedStream{ServerStream: ss, v: v, log: log})
	}
}

type validatedStream struct {
	grpc.ServerStream
	v   protovalidate.Validator
	log *slog.Logger
}

func (s *validatedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	if err := s.v.Validate(msg); err != nil {
		// The same shape as the unary path's: go-grpc-middleware's status
		// with buf.validate.Violations, then validationStatus.
		var verr *protovalidate.ValidationError
		if errors.As(err, &verr) {
			st, serr := status.New(codes.InvalidArgument, err.Error()).WithDetails(verr.ToProto())
			if serr == nil {
				return validationStatus(s.Context(), s.log, st.Err())
			}
		}
		return validationStatus(s.Context(), s.log, status.Error(codes.Internal, err.Error()))
	}
	return nil
}

// validationStatus reshapes the status go-grpc-middleware's protovalidate
// interceptor returns (details as buf.validate.Violations) into the
// ledger's shape. A rule that could not be evaluated (a CEL runtime error)
// is logged and becomes a generic Internal.
func validationStatus(ctx context.Context, log *slog.Logger, err error) error {
	st := status.Convert(err)
	var violations []*validate.Violation
	for _, d := range st.Details() {
		if vs, ok := d.(*validate.Violations); ok {
			violations = append(violations, vs.GetViolations()...)
		}
	}
	if st.Code() != codes.InvalidArgument || len(violations) == 0 {
		log.ErrorContext(ctx, "request validation failed to run", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	br := &errdetails.BadRequest{}
	msgs := make([]string, 0, len(violations))
	for _, v := range violations {
		field := protovalidate.FieldPathString(v.GetField())
		desc := describe(v)
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
		msgs = append(msgs, field+": "+desc)
	}
	out := status.New(codes.InvalidArgument, strings.Join(msgs, "; "))
	if withDetails, derr := out.WithDetails(br); derr == nil {
		out = withDetails
	}
	return out.Err()
}

// describe turns protovalidate's "value must be ..." into the ledger's
// "must be ...", since the field is already named in front of it, and
// words the standard rules that stand for the ledger's own (rules.proto)
// as the ledger does.
func describe(v *validate.Violation) string {
	msg := v.GetMessage()
	if msg == "" {
		msg = "is invalid (" + v.GetRuleId() + ")"
	}
	msg = strings.TrimPrefix(msg, "value ")
	if ledgerWords, ok := ledgerRuleMessages[msg]; ok {
		return ledgerWords
	}
	return msg
}

// ledgerRuleMessages maps protovalidate's messages for the standard rules
// the protos use in place of the ledger's rules (rules.proto) to the
// ledger's wording.
var ledgerRuleMessages = map[string]string{
	"does not match regex pattern `^[A-Za-z0-9][A-Za-z0-9._:@-]*$`": "must start with a letter or digit and contain only letters, digits and . _ : @ -",
	"does not match regex pattern `^[!-~]*$`":                       "must be printable ASCII without spaces",
	"contains substring `\x00`":                                     "must be valid UTF-8 without NUL characters",
}
