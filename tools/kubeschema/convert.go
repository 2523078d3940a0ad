package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The OpenAPI documents refer to one another's schemas by this prefix;
// the standalone files refer to their own definitions.
const (
	openAPIRef     = "#/components/schemas/"
	definitionsRef = "#/definitions/"
)

// openAPIFile names the document of one group-version in
// api/openapi-spec/v3: api__v1_openapi.json for the core group,
// apis__apps__v1_openapi.json for apps/v1.
func openAPIFile(gv string) string {
	group, version, ok := strings.Cut(gv, "/")
	if !ok {
		return "api__" + gv + "_openapi.json"
	}
	return "apis__" + group + "__" + version + "_openapi.json"
}

// kindFile is the file kubeconform looks for, given the location template
// {{ .ResourceKind }}{{ .KindSuffix }}.json: the kind in lower case, then
// "-" and the group's first label, then "-" and the version
// (deployment-apps-v1.json, networkpolicy-networking-v1.json), the core
// group having neither group nor its dash (service-v1.json).
func kindFile(kind, gv string) string {
	suffix := "-" + strings.ToLower(gv)
	if group, version, ok := strings.Cut(gv, "/"); ok {
		first, _, _ := strings.Cut(group, ".")
		suffix = "-" + strings.ToLower(first) + "-" + strings.ToLower(version)
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// gvk is one entry of x-kubernetes-group-version-kind.
type gvk struct{ Group, Version, Kind string }

func (g gvk) apiVersion() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// convertGroupVersion makes a schema file for every kind of group-version
// gv, named as kubeconform looks for it.
func convertGroupVersion(dir, gv string) (map[string][]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, openAPIFile(gv)))
	if err != nil {
		return nil, fmt.Errorf("group-version %s: %w", gv, err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // minimums and defaults stay as written
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", openAPIFile(gv), err)
	}
	schemas := doc.Components.Schemas
	out := map[string][]byte{}
	for _, name := range sortedKeys(schemas) {
		for _, k := range kindsOf(schemas[name]) {
			if k.apiVersion() != gv {
				continue // a shared type (DeleteOptions...) listed for every group
			}
			s, err := standalone(schemas, name)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", gv, k.Kind, err)
			}
			body, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			out[kindFile(k.Kind, gv)] = body
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no kind of %s", openAPIFile(gv), gv)
	}
	return out, nil
}

// kindsOf reads a schema's x-kubernetes-group-version-kind.
func kindsOf(s map[string]any) []gvk {
	list, _ := s["x-kubernetes-group-version-kind"].([]any)
	var out []gvk
	for _, e := range list {
		m, _ := e.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" {
			out = append(out, gvk{g, v, k})
		}
	}
	return out
}

// standalone is the schema of the named type as one JSON Schema (draft 4,
// kubeconform's default): the type itself at the root, and every type it
// reaches under "definitions", each made strict.
func standalone(schemas map[string]map[string]any, name string) (map[string]any, error) {
	defs := map[string]any{}
	var visit func(string) error
	visit = func(n string) error {
		if _, done := defs[n]; done {
			return nil
		}
		s, ok := schemas[n]
		if !ok {
			return fmt.Errorf("reference to %s, which the document does not define", n)
		}
		c, refs := convertSchema(s)
		defs[n] = c
		for _, r := range refs {
			if err := visit(r); err != nil {
				return err
			}
		}
		return nil
	}
	root, refs := convertSchema(schemas[name])
	for _, r := range refs {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	root["$schema"] = "http://json-schema.org/draft-04/schema#"
	if len(defs) > 0 {
		root["definitions"] = defs
	}
	return root, nil
}

// convertSchema copies one OpenAPI schema as JSON Schema: references
// point into "definitions"; an object that lists its properties allows no
// other (kubectl's and the API server's strict field validation), unless
// it says it keeps unknown fields; descriptions are dropped (they make
// the files ten times larger and no check reads them). It returns the
// names of the types referred to.
func convertSchema(s map[string]any) (map[string]any, []string) {
	var refs []string
	var walk func(s map[string]any) map[string]any
	walk = func(s map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range s {
			switch k {
			case "description":
				continue
			case "$ref":
				ref, _ := v.(string)
				if n, ok := strings.CutPrefix(ref, openAPIRef); ok {
					refs = append(refs, n)
					v = definitionsRef + n
				}
			case "properties":
				if props, ok := v.(map[string]any); ok {
					m := map[string]any{}
					for pn, ps := range props {
						m[pn] = walkAny(ps, walk)
					}
					v = m
				}
			case "items", "additionalProperties", "not":
				v = walkAny(v, walk)
			case "allOf", "anyOf", "oneOf":
				if list, ok := v.([]any); ok {
					l := make([]any, len(list))
					for i, e := range list {
						l[i] = walkAny(e, walk)
					}
					v = l
				}
			}
			out[k] = v
		}
		if _, hasProps := s["properties"]; hasProps && s["additionalProperties"] == nil && s["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
		return out
	}
	return walk(s), refs
}

// walkAny applies walk to v when v is a schema (an object), and returns
// anything else (additionalProperties: true) as it is.
func walkAny(v any, walk func(map[string]any) map[string]any) any {
	if m, ok := v.(map[string]any); ok {
		return walk(m)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
