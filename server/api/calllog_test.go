package api

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/server/auth"
)

func TestLogCallsWritesOneLineAtTheCodesLevel(t *testing.T) {
	info := &grpc.UnaryServerInfo{FullMethod: "/goodwill.v1.GoodwillService/RecordEvent"}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{KeyID: "k1", Tenant: "acme"})
	ok := func(context.Context, any) (any, error) { return "done", nil }
	busy := func(context.Context, any) (any, error) {
		return nil, status.Error(codes.Unavailable, "store down")
	}
	for _, tc := range []struct {
		name    string
		level   slog.Level
		handler grpc.UnaryHandler
		want    []string // parts of the one line; nil: no line
	}{
		{"OK at info", slog.LevelInfo, ok, []string{"level=INFO", `msg="finished call"`, "grpc.service=goodwill.v1.GoodwillService",
			"grpc.method=RecordEvent", "grpc.code=OK", "key_id=k1", "tenant=acme", "grpc.time_ms="}},
		{"OK at warn writes nothing", slog.LevelWarn, ok, nil},
		{"Unavailable at warn", slog.LevelWarn, busy, []string{"level=WARN", "grpc.code=Unavailable", `grpc.error="rpc error: code = Unavailable desc = store down"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
			tagged := func(_ context.Context, attrs []any) []any { return append(attrs, "request_id", "r1") }
			resp, err := logCalls(log, tagged)(ctx, nil, info, tc.handler)
			if want, _ := tc.handler(ctx, nil); resp != want {
				t.Errorf("response %v, want the handler's %v", resp, want)
			}
			if _, want := tc.handler(ctx, nil); status.Code(err) != status.Code(want) {
				t.Errorf("error %v, want the handler's %v", err, want)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if tc.want == nil {
				if buf.Len() > 0 {
					t.Fatalf("logged %q, want nothing", buf.String())
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1: %q", len(lines), buf.String())
			}
			for _, part := range append(tc.want, "request_id=r1") {
				if !strings.Contains(lines[0], part) {
					t.Errorf("line %q lacks %q", lines[0], part)
				}
			}
		})
	}
}
