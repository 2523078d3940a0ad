// Package gateway serves the REST/JSON API. It translates HTTP to gRPC
// calls that run the service's own interceptor chain: unary calls
// in-process through Local (the chain, then the generated handler, as a
// gRPC server would call them), the stream over a connection its caller
// provides (goodwilld gives it an in-process channel to a gRPC server built
// with the same options as the public one). So every interceptor (keys and
// roles, rate limits, validation, logging, recovery) runs for both
// protocols. Beside the API it serves /healthz, /version (the build), the
// OpenAPI document at /openapi.json and the web console at /console/, and
// answers CORS requests from the configured origins only.
//
// It must never call the ledger directly, and never register handlers with
// Register...HandlerServer: that would skip the interceptors.
package gateway

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/buildinfo"
)

// openAPI is gen/openapiv2/goodwill.swagger.json, copied here by
// `make generate` because go:embed cannot reach outside the package.
//
//go:embed openapi.json
var openAPI []byte

// servedOpenAPI is the OpenAPI document as a client fetching it should
// read it: the host it asked and the scheme it used, rather than the
// default address the committed document names.
func servedOpenAPI(r *http.Request) []byte {
	host, _ := json.Marshal(r.Host)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	doc := bytes.Replace(openAPI, []byte(`"host": "127.0.0.1:8080"`), append([]byte(`"host": `), host...), 1)
	return bytes.Replace(doc, []byte("\"schemes\": [\n    \"http\",\n    \"https\"\n  ]"),
		[]byte(`"schemes": ["`+scheme+`"]`), 1)
}

// MaxResponseBytes bounds one response read from the gRPC server: a full
// page of events at the largest allowed sizes fits.
const MaxResponseBytes = 64 << 20

// Config says how to reach the gRPC server, how big a request body may be
// and which browser origins may call the API.
type Config struct {
	// Dial opens a connection to the gRPC server. The connection carries
	// plaintext HTTP/2, so it must be one no one else can reach, such as an
	// in-memory listener's (goodwilld uses bufconn).
	Dial         func(ctx context.Context) (net.Conn, error)
	MaxBodyBytes int64
	// CORSOrigins are the origins browsers may call the API from ("*" for
	// any, or a single-wildcard pattern such as https://*.example.com).
	// Empty means no CORS headers at all, so browsers allow no other origin.
	CORSOrigins []string
	// Console is the web console's files (index.html at the root), served
	// at /console/; nil serves none.
	Console fs.FS
	// Local, when its Impl is set, runs unary calls in-process (see Local);
	// otherwise every call goes over Dial's connection.
	Local Local
	// DialOptions are added to the connection Dial opens, after the
	// gateway's own: goodwilld's carry each call's request id and trace
	// context in the call's metadata, as the HTTP request had them.
	DialOptions []grpc.DialOption
}

// CORS policy: the API's methods, and the headers a browser app needs (a
// bearer token and a JSON body; a request id and W3C trace context, to
// follow its calls through the server's logs and traces). No cookies:
// credentials are not allowed. A browser app may read the request id the
// server answers with.
var (
	corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	corsHeaders = []string{"Authorization", "Content-Type", "X-Request-Id", "Traceparent", "Tracestate"}
	corsExposed = []string{"X-Request-Id"}
)

// corsMaxAge is how long (seconds) a browser may cache a preflight answer.
const corsMaxAge = 600

// Gateway is the HTTP handler and the gRPC connection it forwards over.
type Gateway struct {
	http.Handler
	conn *grpc.ClientConn
}

// New connects to the gRPC server through cfg.Dial (lazily: no connection
// is made until a request arrives) and builds the HTTP handler.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Dial == nil {
		return nil, errors.New("gateway: Config.Dial is required")
	}
	dialOpts := []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return cfg.Dial(ctx) }),
		// Plaintext is right here: Dial's connection never leaves the
		// process (see Config.Dial).
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Responses can be far larger than requests (a batch echoes every
		// event; a page holds up to 1,000), so the receive limit is the
		// server's response ceiling, not the request limit.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseBytes)),
	}
	// passthrough: the target is only a name; cfg.Dial picks the connection.
	conn, err := grpc.NewClient("passthrough:///goodwilld-internal", append(dialOpts, cfg.DialOptions...)...)
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, strictJSON{&runtime.JSONPb{
			// Every scalar, list and map field appears in responses, so a
			// zero balance reads as 0 rather than as a missing key. A
			// message or optional field that is not set is left out rather
			// than written as null, which the OpenAPI schema (a date-time,
			// an object, a number) would not allow.
			MarshalOptions: protojson.MarshalOptions{EmitDefaultValues: true},
			// An unknown field is an error, so a typo such as "magnitdue"
			// is a 400 rather than a silently defaulted value.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithRoutingErrorHandler(routingError),
		// No POST-with-a-form standing in for a GET (the stock mux's "path
		// length fallback"): a route is what the proto says it is, and the
		// query checks see the request the handler will.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithErrorHandler(restErrors),
		// gRPC's own response headers (content-type: application/grpc)
		// and trailers mean nothing to a REST client; none is forwarded.
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithOutgoingTrailerMatcher(func(string) (string, bool) { return "", false }),
	)
	var calls grpc.ClientConnInterface = conn
	if cfg.Local.Impl != nil {
		calls = newLocalConn(cfg.Local, conn)
	}
	if err := goodwillv1.RegisterGoodwillServiceHandlerClient(ctx, mux, goodwillv1.NewGoodwillServiceClient(calls)); err != nil {
		conn.Close()
		return nil, err
	}
	health := healthpb.NewHealthClient(conn)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		resp, err := health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		status := "UNKNOWN"
		code := http.StatusServiceUnavailable
		if err == nil {
			status = resp.GetStatus().String()
			if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				code = http.StatusOK
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
	})
	// Which build answers, without a key like /healthz: a rollout can be
	// watched replica by replica, and a version is no secret (the commit
	// is public too, and the console's files already tell the build).
	root.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(buildinfo.Get())
	})
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(servedOpenAPI(r))
	})
	if cfg.Console != nil {
		console, err := consoleHandler(cfg.Console)
		if err != nil {
			conn.Close()
			return nil, err
		}
		root.Handle("GET /console/", console)
		root.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
		// A browser pointed at the server's address lands on the console.
		root.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	}
	root.Handle("/", limitBody(requireUTF8(checkRequests(mux, mux)), cfg.MaxBodyBytes))
	var h http.Handler = root
	// Without origins there is no CORS handler at all (rs/cors would
	// default to allowing every origin).
	if len(cfg.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins:   cfg.CORSOrigins,
			AllowedMethods:   corsMethods,
			AllowedHeaders:   corsHeaders,
			ExposedHeaders:   corsExposed,
			AllowCredentials: false,
			MaxAge:           corsMaxAge,
		}).Handler(root)
	}
	return &Gateway{Handler: h, conn: conn}, nil
}

// Close closes the connection to the gRPC server.
func (g *Gateway) Close() error { return g.conn.Close() }

// routingError answers requests no route matches. The stock handler turns
// a wrong method into 501 Not Implemented, a 5xx for a client's mistake.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		allowed := allowedMethods(r.URL.Path)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, codes.Unimplemented, "method "+r.Method+" is not allowed on "+r.URL.Path+
			"; it takes "+strings.Join(allowed, ", "))
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, codes.NotFound, "no route for "+r.Method+" "+r.URL.Path)
	default:
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
	}
}

// limitBody caps request bodies; the gateway reports an over-long body as
// a 400 naming the limit.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, "request body is larger than the limit of "+itoa(max)+" bytes")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
