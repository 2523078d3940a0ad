package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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

// maxViolations bounds what one request can make the checks collect (they
// run before authentication: a body of 400,000 unknown keys must not cost a
// reply of as many lines).
const maxViolations = 100

// violations collects a request's problems, up to maxViolations.
type violations struct {
	list []violation
	// listed remembers the messages whose fields an error already listed.
	listed map[string]bool
}

func (v *violations) add(field, desc string) {
	if len(v.list) < maxViolations {
		v.list = append(v.list, violation{field, desc})
	}
}

func (v *violations) full() bool { return len(v.list) >= maxViolations }

// listOnce returns the field list of a message the first time only, so a
// request with many unknown fields does not repeat it.
func (v *violations) listOnce(key, list string) string {
	if v.listed == nil {
		v.listed = map[string]bool{}
	}
	if v.listed[key] {
		return ""
	}
	v.listed[key] = true
	return list
}

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
		var vs violations
		checkQuery(rt, r.URL.Query(), &vs)
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
			// The body's fields are checked only if the mux cannot decode
			// it (restErrors calls bodyViolations): a body protojson takes
			// has none of the problems checkJSON names, and decoding every
			// body once more into maps cost a REST call more CPU than the
			// decode the call needs (issue #15).
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, &sentBody{raw: raw, md: bm}))
		}
		if len(vs.list) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		_, outbound := runtime.MarshalerForRequest(mux, r)
		runtime.HTTPError(r.Context(), mux, outbound, w, r, restSpelled{invalid(vs.list)})
	})
}

// bodyKey is the context key of a request's sentBody.
type bodyKey struct{}

// sentBody is a request body kept for bodyViolations.
type sentBody struct {
	raw []byte
	md  protoreflect.MessageDescriptor
}

// bodyViolations checks the body a request sent, if it sent one, against
// its message, as checkQuery checks the query: every field of its type,
// enums and times explained. The error handler calls it when a call fails
// with INVALID_ARGUMENT (which a body the mux cannot decode becomes); nil
// when the body has no such problem, and the error stands as it is.
func bodyViolations(r *http.Request) error {
	b, ok := r.Context().Value(bodyKey{}).(*sentBody)
	if !ok {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b.raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil // not JSON at all: protojson's own error says where
	}
	var vs violations
	checkJSON("", b.md, v, &vs)
	if len(vs.list) == 0 {
		return nil
	}
	return restSpelled{invalid(vs.list)}
}

// restSpelled marks an error whose fields are already named as REST
// clients spell them, which the error handler must not rename again.
type restSpelled struct{ error }

func (e restSpelled) GRPCStatus() *status.Status { return status.Convert(e.error) }

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
func checkQuery(rt *route, q url.Values, vs *violations) {
	fields := rt.queryFields()
	byName := map[string]protoreflect.FieldDescriptor{}
	var names []string
	for _, fd := range fields {
		byName[fd.JSONName()], byName[string(fd.Name())] = fd, fd
		names = append(names, fd.JSONName())
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	given := map[protoreflect.Name]string{} // field -> the key that gave it
	for _, key := range keys {
		if vs.full() {
			return
		}
		values := q[key]
		fd := byName[key]
		if fd == nil {
			vs.add(key, unknownParameter(rt, key, vs.listOnce("query", strings.Join(names, ", "))))
			continue
		}
		name := fd.JSONName()
		if other, ok := given[fd.Name()]; ok {
			vs.add(name, fmt.Sprintf("is given twice, as %s and as %s; give it once", other, key))
			continue
		}
		given[fd.Name()] = key
		if !fd.IsList() && len(values) > 1 {
			vs.add(name, fmt.Sprintf("is given %d times; give it once", len(values)))
			continue
		}
		for i, v := range values {
			field := name
			if fd.IsList() {
				field = fmt.Sprintf("%s[%d]", name, i)
			}
			if desc := checkQueryValue(fd, v); desc != "" {
				vs.add(field, desc)
			}
		}
	}
}

func unknownParameter(rt *route, key, names string) string {
	for name := range rt.pathFields {
		if key == string(name) || key == jsonName(string(name)) {
			return "is taken from the request path, not the query"
		}
	}
	switch {
	case len(rt.queryFields()) == 0:
		return "is not a parameter of this call, which takes none in the query"
	case names == "":
		return "is not a parameter of this call"
	}
	return "is not a parameter of this call; it takes " + names
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
		if !queryNumber(v) {
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

// queryNumber is a number as the gateway reads one from the query: decimal
// or exponent notation, or Infinity, -Infinity, NaN (the ledger then says
// which it takes).
func queryNumber(v string) bool {
	switch v {
	case "Infinity", "-Infinity", "NaN":
		return true
	}
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && !strings.ContainsAny(v, "xX_") && !math.IsInf(f, 0) && !math.IsNaN(f)
}

func checkEnum(ed protoreflect.EnumDescriptor, v string) string {
	if ed.Values().ByName(protoreflect.Name(v)) != nil {
		return ""
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && ed.Values().ByNumber(protoreflect.EnumNumber(n)) != nil {
		return ""
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

// timestampJSON is an RFC 3339 time as protojson takes it: years 0001 to
// 9999, at most nine fractional digits, Z or an offset.
var timestampJSON = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)

func checkTimestamp(v string) string {
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !timestampJSON.MatchString(v) || strings.HasPrefix(v, "0000") {
		return fmt.Sprintf("%q is not an RFC 3339 time, such as 2026-11-20T14:00:00Z or 2026-11-20T15:00:00.5+01:00", v)
	}
	return ""
}

// durationJSON is a google.protobuf.Duration in JSON: seconds with up to
// nine decimals and an "s".
var durationJSON = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?s$`)

// maxDurationSeconds is the longest duration every part of the path
// takes (Go's time.Duration stops at about 292 years).
const maxDurationSeconds = 9e9

func checkDuration(v string) string {
	if !durationJSON.MatchString(v) {
		return fmt.Sprintf("%q is not a duration in seconds, such as 3600s (an hour) or 86400s (a day)", v)
	}
	if f, _ := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64); f > maxDurationSeconds || f < -maxDurationSeconds {
		return fmt.Sprintf("%q is longer than any duration this API takes (at most 9000000000s)", v)
	}
	return ""
}

// checkJSON checks a decoded JSON value against a message: every key must
// be one of its fields, and every value of its field's type (a string for a
// string, a known name for an enum, an RFC 3339 time for a timestamp...),
// so a body's mistakes are all reported at once. path is where v sits in
// the body ("" at its root).
func checkJSON(path string, md protoreflect.MessageDescriptor, v any, out *violations) {
	obj, ok := v.(map[string]any)
	if !ok {
		out.add(rootName(path), "must be a JSON object")
		return
	}
	fields := md.Fields()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if out.full() {
			return
		}
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			desc := "is not a field of " + string(md.Name())
			if list := out.listOnce(string(md.FullName()), fieldNames(md)); list != "" {
				desc += "; its fields are " + list
			}
			out.add(joinPath(path, key), desc)
			continue
		}
		sub, val := joinPath(path, fd.JSONName()), obj[key]
		switch {
		case val == nil: // null: not set
		case fd.IsMap():
			m, ok := val.(map[string]any)
			if !ok {
				out.add(sub, "must be a JSON object")
				continue
			}
			mkeys := make([]string, 0, len(m))
			for k := range m {
				mkeys = append(mkeys, k)
			}
			slices.Sort(mkeys)
			for _, k := range mkeys {
				checkJSONValue(fmt.Sprintf("%s[%q]", sub, k), fd.MapValue(), m[k], out)
			}
		case fd.IsList():
			items, ok := val.([]any)
			if !ok {
				out.add(sub, "must be a JSON array")
				continue
			}
			for i, item := range items {
				checkJSONValue(fmt.Sprintf("%s[%d]", sub, i), fd, item, out)
			}
		default:
			checkJSONValue(sub, fd, val, out)
		}
	}
}

func rootName(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// checkJSONValue checks one value against its field's type, as protojson
// reads it (numbers may also come as strings).
func checkJSONValue(field string, fd protoreflect.FieldDescriptor, v any, out *violations) {
	s, isString := v.(string)
	num, isNumber := v.(json.Number)
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		if !isString {
			out.add(field, "must be a string")
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			out.add(field, "must be true or false")
		}
	case protoreflect.EnumKind:
		switch {
		case isString:
			if desc := checkEnum(fd.Enum(), s); desc != "" {
				out.add(field, desc)
			}
		case isNumber:
			if desc := checkEnum(fd.Enum(), num.String()); desc != "" {
				out.add(field, desc)
			}
		default:
			out.add(field, "must be one of "+enumNames(fd.Enum()))
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		text := s
		if isNumber {
			text = num.String()
		}
		if (!isString && !isNumber) || !wholeNumber(text) {
			out.add(field, "must be a whole number")
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		switch {
		case isNumber:
		case isString && (s == "NaN" || s == "Infinity" || s == "-Infinity"):
		case isString:
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				out.add(field, "must be a number")
			}
		default:
			out.add(field, "must be a number")
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			if !isString {
				out.add(field, "must be an RFC 3339 time in a string, such as \"2026-11-20T14:00:00Z\"")
			} else if desc := checkTimestamp(s); desc != "" {
				out.add(field, desc)
			}
		case "google.protobuf.Duration":
			if !isString {
				out.add(field, "must be a duration in a string, such as \"3600s\"")
			} else if desc := checkDuration(s); desc != "" {
				out.add(field, desc)
			}
		default:
			checkJSON(field, fd.Message(), v, out)
		}
	}
}

// wholeNumber: an integer, possibly written with an exponent (1e3) as
// protojson allows.
func wholeNumber(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(s, 10, 64); err == nil {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == float64(int64(f))
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
