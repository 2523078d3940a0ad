package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// methodRoles is who may call what, read from each method's required_role
// option in the proto (access.proto): the one place it is declared. A
// method without one is closed to every key, admin included
// (TestEveryMethodHasARole fails on it).
var methodRoles = rolesOf(goodwillv1.File_goodwill_v1_goodwill_service_proto.Services())

var roleOf = map[goodwillv1.Role]auth.Role{
	goodwillv1.Role_ROLE_READER: auth.Reader,
	goodwillv1.Role_ROLE_WRITER: auth.Writer,
	goodwillv1.Role_ROLE_ADMIN:  auth.Admin,
	goodwillv1.Role_ROLE_ANY:    auth.AnyRole,
}

func rolesOf(services protoreflect.ServiceDescriptors) map[string]auth.Role {
	out := map[string]auth.Role{}
	for i := range services.Len() {
		sd := services.Get(i)
		methods := sd.Methods()
		for j := range methods.Len() {
			md := methods.Get(j)
			r, _ := proto.GetExtension(md.Options(), goodwillv1.E_RequiredRole).(goodwillv1.Role)
			out["/"+string(sd.FullName())+"/"+string(md.Name())] = roleOf[r]
		}
	}
	return out
}

// RequiredRole returns the role a method needs (RoleUnspecified: closed).
func RequiredRole(fullMethod string) auth.Role { return methodRoles[fullMethod] }

// localNetwork is the network of the peer of a call the REST gateway makes
// in-process (gateway.LocalNetwork; this package may not import the
// gateway).
const localNetwork = "inprocess"

// openServices need no key: load balancers probe health without one, and
// reflection describes only the schema, which is public (/openapi.json).
var openServices = map[string]bool{
	healthpb.Health_ServiceDesc.ServiceName:    true,
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
}

// Access checks every call: a valid key (UNAUTHENTICATED otherwise), a
// role that allows the method (PERMISSION_DENIED), and the key's rate
// (RESOURCE_EXHAUSTED). The key's tenant becomes the call's tenant.
//
// Each refusal is logged for audit: by key or role at INFO, by rate at
// DEBUG (a flood would drown the log). A token is never logged, only the
// key id it names.
type Access struct {
	authn   *auth.Authenticator
	limiter *auth.Limiter
	limits  auth.RateLimits
	log     *slog.Logger
}

// NewAccess returns the access checks over authn with per-key limits,
// logging refusals to log.
func NewAccess(authn *auth.Authenticator, limits auth.RateLimits, log *slog.Logger) *Access {
	return &Access{authn: authn, limiter: auth.NewLimiter(limits), limits: limits, log: log}
}

func needsKey(_ context.Context, c interceptors.CallMeta) bool { return !openServices[c.Service] }

// UnaryInterceptors authenticate, authorize, then rate-limit.
func (a *Access) UnaryInterceptors() []grpc.UnaryServerInterceptor {
	match := selector.MatchFunc(needsKey)
	return []grpc.UnaryServerInterceptor{
		selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(a.authenticate), match),
		selector.UnaryServerInterceptor(ratelimit.UnaryServerInterceptor(a), match),
	}
}

// StreamInterceptors do the same for streams (WatchNotifications,
// ExportEvents); a stream, like a unary method, is closed until its
// method has a required_role.
func (a *Access) StreamInterceptors() []grpc.StreamServerInterceptor {
	match := selector.MatchFunc(needsKey)
	return []grpc.StreamServerInterceptor{
		selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(a.authenticate), match),
		selector.StreamServerInterceptor(ratelimit.StreamServerInterceptor(a), match),
	}
}

// authenticate finds the caller's key and checks its role. On success the
// principal goes into the context, where the per-call log line (logCalls
// runs after this) finds the key id and tenant that name the caller.
func (a *Access) authenticate(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	token, err := grpcauth.AuthFromMD(ctx, "bearer")
	if err != nil {
		a.refused(ctx, slog.LevelInfo, method, "missing key", "")
		return nil, status.Error(codes.Unauthenticated, "missing API key: send the header \"authorization: Bearer <key>\"")
	}
	p, err := a.authn.Authenticate(ctx, token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		id, _, _ := auth.ParseToken(token) // "" unless the token is well formed
		a.refused(ctx, slog.LevelInfo, method, "invalid or revoked key", id)
		return nil, status.Error(codes.Unauthenticated, "invalid or revoked API key")
	case errors.Is(err, auth.ErrTooManyNewKeys):
		id, _, _ := auth.ParseToken(token)
		a.refused(ctx, slog.LevelDebug, method, "too many lookups of keys not verified yet", id)
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	case err != nil:
		a.log.WarnContext(ctx, "cannot check an API key", "method", method, "error", err)
		return nil, status.Error(codes.Unavailable, "cannot check the API key now; retry")
	}
	if need := methodRoles[method]; !p.Role.Allows(need) {
		if need == auth.RoleUnspecified {
			a.refused(ctx, slog.LevelInfo, method, "method open to no key", p.KeyID)
			return nil, status.Errorf(codes.PermissionDenied, "%s is not open to any key", method)
		}
		a.refused(ctx, slog.LevelInfo, method, fmt.Sprintf("role %s may not call %s", p.Role, method), p.KeyID)
		return nil, status.Errorf(codes.PermissionDenied, "API key %s has role %s; %s needs %s", p.KeyID, p.Role, method, need)
	}
	return auth.WithPrincipal(ctx, p), nil
}

// Limit implements ratelimit.Limiter: one token bucket per key.
func (a *Access) Limit(ctx context.Context) error {
	p, _ := auth.FromContext(ctx)
	if a.limiter.Allow(p.KeyID) {
		return nil
	}
	method, _ := grpc.Method(ctx)
	a.refused(ctx, slog.LevelDebug, method, "over the rate limit", p.KeyID)
	return fmt.Errorf("API key %s is over its limit of %g requests/s (burst %d)", p.KeyID, a.limits.PerSecond, a.limits.Burst)
}

// refused logs a refused call: the method, why, the key id when known, and
// where the call came from. Calls through the REST gateway arrive from
// "gateway" (its in-process path) or "bufconn" (its streams); for them the
// HTTP client's address is the last entry of x-forwarded-for, which only
// the gateway can set on those paths.
func (a *Access) refused(ctx context.Context, level slog.Level, method, reason, keyID string) {
	if !a.log.Enabled(ctx, level) {
		return
	}
	attrs := []any{"method", method, "reason", reason}
	if keyID != "" {
		attrs = append(attrs, "key_id", keyID)
	}
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		attrs = append(attrs, "peer", pr.Addr.String())
		if n := pr.Addr.Network(); n == "bufconn" || n == localNetwork {
			if fwd := metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"); len(fwd) > 0 {
				last := fwd[len(fwd)-1]
				attrs = append(attrs, "forwarded_for", strings.TrimSpace(last[strings.LastIndex(last, ",")+1:]))
			}
		}
	}
	a.log.Log(ctx, level, "call refused", attrs...)
}

// tenant returns the caller's tenant, set by Access from its key. With no
// key there is no tenant: "" names none, so nothing is found.
func tenant(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.Tenant
}

// caller names who is calling, for the audit log.
func caller(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return "key:" + p.KeyID
	}
	return "unknown"
}

// mayRead reports whether the caller may read the ledger. Writes answer a
// writer-only key with the outcome and its own event, never a balance or
// another caller's event: the reader and writer roles stay disjoint in what
// they see, not only in what they call.
func mayRead(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && p.Role.Allows(auth.Reader)
}
