package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// methodRoles is the one table of who may call what. A method missing
// here is closed to every key, admin included (access_test.go fails when
// an RPC is added without an entry).
var methodRoles = map[string]auth.Role{
	goodwillv1.GoodwillService_UpsertCustomer_FullMethodName: auth.Writer,
	goodwillv1.GoodwillService_RecordEvent_FullMethodName:    auth.Writer,
	goodwillv1.GoodwillService_RecordEvents_FullMethodName:   auth.Writer,
	goodwillv1.GoodwillService_ReverseEvent_FullMethodName:   auth.Writer,
	goodwillv1.GoodwillService_RecordIncident_FullMethodName: auth.Writer,

	goodwillv1.GoodwillService_GetCustomer_FullMethodName:       auth.Reader,
	goodwillv1.GoodwillService_ListEvents_FullMethodName:        auth.Reader,
	goodwillv1.GoodwillService_GetBalance_FullMethodName:        auth.Reader,
	goodwillv1.GoodwillService_ExplainBalance_FullMethodName:    auth.Reader,
	goodwillv1.GoodwillService_GetBalanceHistory_FullMethodName: auth.Reader,
	goodwillv1.GoodwillService_ListBalances_FullMethodName:      auth.Reader,
	goodwillv1.GoodwillService_SummarizeBalances_FullMethodName: auth.Reader,
	goodwillv1.GoodwillService_ListOutreach_FullMethodName:      auth.Reader,
	goodwillv1.GoodwillService_GetPolicy_FullMethodName:         auth.Reader,
	goodwillv1.GoodwillService_GetRecomputeJob_FullMethodName:   auth.Reader,

	goodwillv1.GoodwillService_SetPolicy_FullMethodName: auth.Admin,
}

// RequiredRole returns the role a method needs (RoleUnspecified: closed).
func RequiredRole(fullMethod string) auth.Role { return methodRoles[fullMethod] }

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
type Access struct {
	authn   *auth.Authenticator
	limiter *auth.Limiter
	limits  auth.RateLimits
}

// NewAccess returns the access checks over authn with per-key limits.
func NewAccess(authn *auth.Authenticator, limits auth.RateLimits) *Access {
	return &Access{authn: authn, limiter: auth.NewLimiter(limits), limits: limits}
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

// StreamInterceptors do the same for streams (the API has none today; a
// future one is closed until it has a methodRoles entry).
func (a *Access) StreamInterceptors() []grpc.StreamServerInterceptor {
	match := selector.MatchFunc(needsKey)
	return []grpc.StreamServerInterceptor{
		selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(a.authenticate), match),
		selector.StreamServerInterceptor(ratelimit.StreamServerInterceptor(a), match),
	}
}

func (a *Access) authenticate(ctx context.Context) (context.Context, error) {
	token, err := grpcauth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "missing API key: send the header \"authorization: Bearer <key>\"")
	}
	p, err := a.authn.Authenticate(ctx, token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return nil, status.Error(codes.Unauthenticated, "invalid or revoked API key")
	case err != nil:
		return nil, status.Error(codes.Unavailable, "cannot check the API key now; retry")
	}
	method, _ := grpc.Method(ctx)
	if need := methodRoles[method]; !p.Role.Allows(need) {
		if need == auth.RoleUnspecified {
			return nil, status.Errorf(codes.PermissionDenied, "%s is not open to any key", method)
		}
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
	return fmt.Errorf("API key %s is over its limit of %g requests/s (burst %d)", p.KeyID, a.limits.PerSecond, a.limits.Burst)
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
