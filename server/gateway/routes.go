package gateway

import (
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// route is one REST binding of an RPC, read from its google.api.http
// option: the same source the generated gateway is built from, so the
// checks in this package cannot drift from the routes it serves.
type route struct {
	method string
	// segments of the path template: a literal, or "{field}" (a variable
	// bound to a top-level field of the request), the last one possibly
	// followed by ":verb".
	segments []string
	verb     string
	input    protoreflect.MessageDescriptor
	// body is "" (no body), "*" (the whole request) or the name of the
	// request field the body fills.
	body string
	// pathFields are the request fields the path binds.
	pathFields map[protoreflect.Name]bool
}

// routes are every REST binding of the service.
var routes = loadRoutes(goodwillv1.File_goodwill_v1_goodwill_service_proto.Services().Get(0))

func loadRoutes(sd protoreflect.ServiceDescriptor) []route {
	var out []route
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			continue
		}
		var method, tmpl string
		switch p := rule.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			method, tmpl = http.MethodGet, p.Get
		case *annotations.HttpRule_Post:
			method, tmpl = http.MethodPost, p.Post
		case *annotations.HttpRule_Put:
			method, tmpl = http.MethodPut, p.Put
		case *annotations.HttpRule_Patch:
			method, tmpl = http.MethodPatch, p.Patch
		case *annotations.HttpRule_Delete:
			method, tmpl = http.MethodDelete, p.Delete
		default:
			continue
		}
		r := route{method: method, input: md.Input(), body: rule.GetBody(), pathFields: map[protoreflect.Name]bool{}}
		segs := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
		if last := segs[len(segs)-1]; strings.HasPrefix(last, "{") {
			if name, verb, ok := strings.Cut(last, "}:"); ok {
				segs[len(segs)-1], r.verb = name+"}", verb
			}
		}
		for _, s := range segs {
			if strings.HasPrefix(s, "{") {
				r.pathFields[protoreflect.Name(strings.Trim(s, "{}"))] = true
			}
		}
		r.segments = segs
		out = append(out, r)
	}
	return out
}

// match finds the route of a request, or nil.
func match(method, path string) *route {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range routes {
		r := &routes[i]
		if r.method != method || len(r.segments) != len(segs) {
			continue
		}
		ok := true
		for j, t := range r.segments {
			s := segs[j]
			if j == len(segs)-1 && r.verb != "" {
				var found bool
				if s, found = strings.CutSuffix(s, ":"+r.verb); !found {
					ok = false
					break
				}
			}
			if strings.HasPrefix(t, "{") {
				ok = ok && s != ""
			} else {
				ok = ok && s == t
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// bodyMessage is the message the request body holds, or nil.
func (r *route) bodyMessage() protoreflect.MessageDescriptor {
	switch r.body {
	case "":
		return nil
	case "*":
		return r.input
	}
	if fd := r.input.Fields().ByName(protoreflect.Name(r.body)); fd != nil {
		return fd.Message()
	}
	return nil
}

// queryFields are the request fields the query string may set: those the
// path and the body do not.
func (r *route) queryFields() []protoreflect.FieldDescriptor {
	if r.body == "*" {
		return nil
	}
	var out []protoreflect.FieldDescriptor
	fields := r.input.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.pathFields[fd.Name()] || string(fd.Name()) == r.body {
			continue
		}
		out = append(out, fd)
	}
	return out
}

// allowedMethods are the methods some route takes on path.
func allowedMethods(path string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if match(m, path) != nil {
			out = append(out, m)
		}
	}
	return out
}
