package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// writeError writes an error in the API's JSON shape ({"code", "message",
// "details"}), for errors raised before a request reaches the gRPC server.
func writeError(w http.ResponseWriter, httpCode int, code codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpCode)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "details": []any{}})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// restErrors is the gateway's error handler. The gRPC server names fields
// as the proto does (events[1].occurred_at); a REST client sent JSON, so
// the fields are renamed the way it spells them: JSON names, relative to
// the body it sent (RecordEvent's body is the event, so event.magnitude is
// magnitude). It also adds the headers HTTP clients expect: WWW-Authenticate
// on 401 (RFC 6750) and Retry-After on 429 and 503.
func restErrors(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if st.Code() == codes.InvalidArgument {
		if checked := bodyViolations(r); checked != nil {
			err, st = checked, status.Convert(checked)
		}
	}
	var spelled restSpelled
	if rt := match(r.Method, r.URL.Path); rt != nil && !errors.As(err, &spelled) {
		st = restSpelling(st, rt)
	}
	switch st.Code() {
	case codes.Unauthenticated:
		// The stock handler puts the error message in WWW-Authenticate;
		// RFC 6750 wants a challenge, set once it has written its headers.
		// error="invalid_token" only when a bearer token was sent: a
		// request with none, or with another scheme, gets the bare
		// challenge (RFC 6750, section 3.1).
		challenge := `Bearer realm="goodwill"`
		if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "bearer") {
			challenge += `, error="invalid_token"`
		}
		w = headerOverride{ResponseWriter: w, key: "WWW-Authenticate", value: challenge}
	case codes.ResourceExhausted, codes.Unavailable:
		w.Header().Set("Retry-After", "1")
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, st.Err())
}

// headerOverride sets one header just before the status line goes out,
// whatever was set before.
type headerOverride struct {
	http.ResponseWriter
	key, value string
}

func (h headerOverride) WriteHeader(code int) {
	h.Header().Set(h.key, h.value)
	h.ResponseWriter.WriteHeader(code)
}

// restSpelling renames the fields a status names, in its field violations
// (INVALID_ARGUMENT) and in its message (any code: ALREADY_EXISTS names the
// idempotency key).
func restSpelling(st *status.Status, rt *route) *status.Status {
	p := st.Proto()
	msg := p.GetMessage()
	var renames [][2]string
	for _, d := range p.GetDetails() {
		br := &errdetails.BadRequest{}
		if d.UnmarshalTo(br) != nil {
			continue
		}
		names := fieldNamesOf(rt.input)
		for _, v := range br.GetFieldViolations() {
			to := restField(rt, v.GetField())
			renames = append(renames, [2]string{v.GetField(), to})
			v.Field = to
			v.Description = renameInText(v.GetDescription(), names)
		}
		if err := d.MarshalFrom(br); err != nil {
			continue
		}
	}
	// Longest first, so events[1].kind is not renamed by a rule for kind.
	slices.SortFunc(renames, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	for _, rn := range renames {
		msg = strings.ReplaceAll(msg, rn[0]+":", rn[1]+":")
	}
	p.Message = renameInText(msg, fieldNamesOf(rt.input))
	return status.FromProto(p)
}

// restField turns a proto field path into the REST client's: without the
// body field's prefix when the body is one field of the request, and with
// JSON names (occurred_at: occurredAt; indexes and map keys unchanged).
func restField(rt *route, path string) string {
	if rt.body != "" && rt.body != "*" {
		path = strings.TrimPrefix(path, rt.body+".")
	}
	var b strings.Builder
	depth := 0
	quoted := false
	upper := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case quoted:
			if c == '\\' && i+1 < len(path) {
				b.WriteByte(c)
				i++
				c = path[i]
			} else if c == '"' {
				quoted = false
			}
		case c == '"' && depth > 0:
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && c == '_':
			upper = true
			continue
		case depth == 0 && upper && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteByte(c)
	}
	return b.String()
}

// snakeWord is a lower-case identifier with an underscore: a proto field
// name, when it is one of the request's.
var snakeWord = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b`)

// renameInText renames the field names a message mentions in its text
// ("must not be below min_balance"), leaving quoted values alone (a
// customer id may look like a field name).
func renameInText(msg string, names map[string]string) string {
	parts := strings.Split(msg, `"`)
	for i := 0; i < len(parts); i += 2 { // even parts are outside quotes
		parts[i] = snakeWord.ReplaceAllStringFunc(parts[i], func(w string) string {
			if j, ok := names[w]; ok {
				return j
			}
			return w
		})
	}
	return strings.Join(parts, `"`)
}

// fieldNamesOf maps every field name in a message and the messages it holds
// to its JSON name.
func fieldNamesOf(md protoreflect.MessageDescriptor) map[string]string {
	out := map[string]string{}
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			out[string(fd.Name())] = fd.JSONName()
			if fd.Message() != nil {
				walk(fd.Message())
			}
		}
	}
	walk(md)
	return out
}

// jsonName is a proto field name's JSON name.
func jsonName(name string) string {
	var b strings.Builder
	upper := false
	for _, c := range name {
		if c == '_' {
			upper = true
			continue
		}
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(c)
	}
	return b.String()
}
