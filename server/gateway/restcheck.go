package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// violation is one problem with one field, named as a REST client spells
// it: JSON names, relative to the body it sent.
type violation struct{ field, desc string }

// checkRequests checks what the gateway would otherwise accept silently or
// explain in its library's words: every query parameter must be one the
// call takes (the stock parser drops unknown ones, so ?kind= instead of
// ?kinds= returned unfiltered events), and every query value and JSON body
// field must be of its field's type, with enum values and time formats
// explained. Every problem of a request is reported at once, as a 400 in
// the API's error shape, before the request reaches the gRPC server.
// Checks that need the ledger (limits, ids) stay where they are.
func checkRequests(mux *runtime.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := match(r.Method, r.URL.Path)
		if rt == nil {
			next.ServeHTTP(w, r) // the mux answers 404 or 405
			return
		}
		vs := checkQuery(rt, r.URL.Query())
		if bm := rt.bodyMessage(); bm != nil && r.Body != nil {
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				// Over the body limit, or the client went away: the mux's
				// decoder meets the same error and reports it.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(raw))
			var v any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			// Not JSON at all: protojson's own error says where.
			if dec.Decode(&v) == nil {
				checkJSON("", bm, v, &vs)
			}
		}
		if len(vs) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		_, outbound := runtime.MarshalerForRequest(mux, r)
		runtime.HTTPError(r.Context(), mux, outbound, w, r, invalid(vs))
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// invalid is the INVALID_ARGUMENT status of violations, with a
// google.rpc.BadRequest detail listing each.
func invalid(vs []violation) error {
	br := &errdetails.BadRequest{}
	msgs := make([]string, len(vs))
	for i, v := range vs {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.field, Description: v.desc})
		msgs[i] = v.field + ": " + v.desc
	}
	st := status.New(codes.InvalidArgument, strings.Join(msgs, "; "))
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st.Err()
}

// checkQuery checks every query parameter against the fields the route's
// query may set.
func checkQuery(rt *route, q url.Values) []violation {
	fields := rt.queryFields()
	byName := map[string]protoreflect.FieldDescriptor{}
	var names []string
	for _, fd := range fields {
		byName[fd.JSONName()], byName[string(fd.Name())] = fd, fd
		names = append(names, fd.JSONName())
	}
	var vs []violation
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		values := q[key]
		fd := byName[key]
		if fd == nil {
			vs = append(vs, violation{key, unknownParameter(rt, key, names)})
			continue
		}
		name := fd.JSONName()
		if !fd.IsList() && len(values) > 1 {
			vs = append(vs, violation{name, fmt.Sprintf("is given %d times; give it once", len(values))})
			continue
		}
		for i, v := range values {
			field := name
			if fd.IsList() {
				field = fmt.Sprintf("%s[%d]", name, i)
			}
			if desc := checkQueryValue(fd, v); desc != "" {
				vs = append(vs, violation{field, desc})
			}
		}
	}
	return vs
}

func unknownParameter(rt *route, key string, names []string) string {
	for name := range rt.pathFields {
		if key == string(name) || key == jsonName(string(name)) {
			return "is taken from the request path, not the query"
		}
	}
	if len(names) == 0 {
		return "is not a parameter of this call, which takes none in the query"
	}
	return "is not a parameter of this call; it takes " + strings.Join(names, ", ")
}

// checkQueryValue returns why v is not a value of fd, or "".
func checkQueryValue(fd protoreflect.FieldDescriptor, v string) string {
	var err error
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return checkEnum(fd.Enum(), v)
	case protoreflect.BoolKind:
		if _, err = strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("%q is not true or false", v)
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if _, err = strconv.ParseInt(v, 10, 32); err != nil {
			return fmt.Sprintf("%q is not a whole number (32 bits)", v)
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if _, err = strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Sprintf("%q is not a whole number", v)
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if _, err = strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("%q is not a number", v)
		}
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return checkTimestamp(v)
		case "google.protobuf.Duration":
			return checkDuration(v)
		}
		return "cannot be set in the query"
	}
	return ""
}

func checkEnum(ed protoreflect.EnumDescriptor, v string) string {
	if ed.Values().ByName(protoreflect.Name(v)) != nil {
		return ""
	}
	if _, err := strconv.ParseInt(v, 10, 32); err == nil {
		return "" // a number: protovalidate checks that it is defined
	}
	return fmt.Sprintf("%q is not one of %s", v, enumNames(ed))
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, 0, vals.Len())
	for i := range vals.Len() {
		if vals.Get(i).Number() != 0 { // *_UNSPECIFIED means "not given"
			names = append(names, string(vals.Get(i).Name()))
		}
	}
	return strings.Join(names, ", ")
}

func checkTimestamp(v string) string {
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		return fmt.Sprintf("%q is not an RFC 3339 time, such as 2026-11-20T14:00:00Z or 2026-11-20T15:00:00.5+01:00", v)
	}
	return ""
}

// durationJSON is a google.protobuf.Duration in JSON: seconds with up to
// nine decimals and an "s".
var durationJSON = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?s$`)

func checkDuration(v string) string {
	if !durationJSON.MatchString(v) {
		return fmt.Sprintf("%q is not a duration in seconds, such as 3600s (an hour) or 86400s (a day)", v)
	}
	return ""
}

// checkJSON checks a decoded JSON value against a message: every key must
// be one of its fields, enum values must be known, times and durations
// well formed. Other type errors are left to protojson, whose messages name
// the field already. path is where v sits in the body ("" at its root).
func checkJSON(path string, md protoreflect.MessageDescriptor, v any, out *[]violation) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	fields := md.Fields()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			*out = append(*out, violation{joinPath(path, key), "is not a field of " + string(md.Name()) +
				"; its fields are " + fieldNames(md)})
			continue
		}
		sub, val := joinPath(path, fd.JSONName()), obj[key]
		switch {
		case val == nil: // null: not set
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok {
				mkeys := make([]string, 0, len(m))
				for k := range m {
					mkeys = append(mkeys, k)
				}
				slices.Sort(mkeys)
				for _, k := range mkeys {
					checkJSONValue(fmt.Sprintf("%s[%q]", sub, k), fd.MapValue(), m[k], out)
				}
			}
		case fd.IsList():
			if items, ok := val.([]any); ok {
				for i, item := range items {
					checkJSONValue(fmt.Sprintf("%s[%d]", sub, i), fd, item, out)
				}
			}
		default:
			checkJSONValue(sub, fd, val, out)
		}
	}
}

func checkJSONValue(field string, fd protoreflect.FieldDescriptor, v any, out *[]violation) {
	s, isString := v.(string)
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if isString {
			if desc := checkEnum(fd.Enum(), s); desc != "" {
				*out = append(*out, violation{field, desc})
			}
		}
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			if isString {
				if desc := checkTimestamp(s); desc != "" {
					*out = append(*out, violation{field, desc})
				}
			}
		case "google.protobuf.Duration":
			if isString {
				if desc := checkDuration(s); desc != "" {
					*out = append(*out, violation{field, desc})
				}
			}
		default:
			checkJSON(field, fd.Message(), v, out)
		}
	}
}

func fieldNames(md protoreflect.MessageDescriptor) string {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = fields.Get(i).JSONName()
	}
	return strings.Join(names, ", ")
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
