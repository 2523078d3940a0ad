package api

import (
	"context"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// roleToProto is roleOf turned round, for the roles a key can have.
var roleToProto = map[auth.Role]goodwillv1.Role{
	auth.Reader: goodwillv1.Role_ROLE_READER,
	auth.Writer: goodwillv1.Role_ROLE_WRITER,
	auth.Admin:  goodwillv1.Role_ROLE_ADMIN,
}

// GetCaller describes the key Access found for this call.
func (s *Server) GetCaller(ctx context.Context, _ *goodwillv1.GetCallerRequest) (*goodwillv1.GetCallerResponse, error) {
	p, _ := auth.FromContext(ctx) // Access let the call in: there is one
	return &goodwillv1.GetCallerResponse{KeyId: p.KeyID, TenantId: p.Tenant, Role: roleToProto[p.Role]}, nil
}
