package api

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// fuzzRPC is one RPC the request-validation fuzzer drives: a fresh request
// message and the handler it goes to.
type fuzzRPC struct {
	method string
	new    func() proto.Message
	call   func(ctx context.Context, s *Server, req proto.Message) (any, error)
}

var fuzzRPCs = []fuzzRPC{
	{"RecordEvent", func() proto.Message { return &goodwillv1.RecordEventRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.RecordEvent(ctx, req.(*goodwillv1.RecordEventRequest))
		}},
	{"RecordEvents", func() proto.Message { return &goodwillv1.RecordEventsRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.RecordEvents(ctx, req.(*goodwillv1.RecordEventsRequest))
		}},
	{"ListBalances", func() proto.Message { return &goodwillv1.ListBalancesRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.ListBalances(ctx, req.(*goodwillv1.ListBalancesRequest))
		}},
	{"RecordIncident", func() proto.Message { return &goodwillv1.RecordIncidentRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.RecordIncident(ctx, req.(*goodwillv1.RecordIncidentRequest))
		}},
	{"UpsertCustomer", func() proto.Message { return &goodwillv1.UpsertCustomerRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.UpsertCustomer(ctx, req.(*goodwillv1.UpsertCustomerRequest))
		}},
	{"ListEvents", func() proto.Message { return &goodwillv1.ListEventsRequest{} },
		func(ctx context.Context, s *Server, req proto.Message) (any, error) {
			return s.ListEvents(ctx, req.(*goodwillv1.ListEventsRequest))
		}},
}

// FuzzValidateRequests builds requests from fuzzed bytes (protobuf wire
// format, or protojson when asJSON) and runs them through the validation
// interceptor goodwilld installs and then the real handler, whose ledger
// checks run before anything is stored (a SQLite file in a temporary
// directory). No input may panic, and every rejection must be a client
// error; INVALID_ARGUMENT must name exactly one field in its message and in
// a google.rpc.BadRequest, and whatever protovalidate rejects must come
// back as INVALID_ARGUMENT.
func FuzzValidateRequests(f *testing.F) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(f.TempDir(), "fuzz.db"), store.Options{Migrate: true, Logger: log})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	srv := New(svc, log)
	intercept := validateRequests(log)
	validator, err := newValidator()
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, which uint8, asJSON bool, data []byte) {
		rpc := fuzzRPCs[int(which)%len(fuzzRPCs)]
		req := rpc.new()
		if asJSON {
			if protojson.Unmarshal(data, req) != nil {
				return // the gateway answers these itself (FuzzRESTDecoding)
			}
		} else if proto.Unmarshal(data, req) != nil {
			return // gRPC rejects undecodable messages before any interceptor
		}
		direct := validator.Validate(req)
		info := &grpc.UnaryServerInfo{FullMethod: "/goodwill.v1.GoodwillService/" + rpc.method}
		_, err := intercept(ctx, req, info, func(ctx context.Context, r any) (any, error) {
			return rpc.call(ctx, srv, r.(proto.Message))
		})
		if err == nil {
			if direct != nil {
				t.Fatalf("%s: protovalidate rejects %v (%v) but the call succeeded", rpc.method, req, direct)
			}
			return
		}
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("%s: %v is not a gRPC status", rpc.method, err)
		}
		switch st.Code() {
		case codes.InvalidArgument:
		case codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition:
			if direct != nil {
				t.Fatalf("%s: protovalidate rejects the request (%v) but the call got %v", rpc.method, direct, err)
			}
			return
		default:
			t.Fatalf("%s: %v for %v: want a client error", rpc.method, err, req)
		}
		var fields []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		if len(fields) == 0 {
			t.Fatalf("%s: %q with no field violation", rpc.method, st.Message())
		}
		for _, f := range fields {
			if f == "" || !strings.Contains(st.Message(), f) {
				t.Fatalf("%s: %q with field violations %q: want every field named in the message", rpc.method, st.Message(), fields)
			}
		}
	})
}
