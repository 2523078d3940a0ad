// Command openapitidy removes the definitions nothing refers to from an
// OpenAPI v2 document, in place, keeping the order of everything else.
//
// protoc-gen-openapiv2 renders every enum a request uses as a definition,
// though an enum that only a query parameter takes is written inline in the
// parameter and never referred to (Spectral: oas2-unused-definition).
// `make generate` runs this after buf generate.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: openapitidy FILE.json")
		os.Exit(2)
	}
	if err := tidy(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "openapitidy:", err)
		os.Exit(1)
	}
}

// member is one key of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

func members(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{t.(string), v})
	}
	return out, nil
}

func object(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

var ref = regexp.MustCompile(`"\$ref":\s*"#/definitions/([^"]+)"`)

func tidy(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	top, err := members(raw)
	if err != nil {
		return err
	}
	var defs []member
	di := -1
	for i, m := range top {
		if m.key == "definitions" {
			di = i
			if defs, err = members(m.value); err != nil {
				return err
			}
		}
	}
	if di < 0 {
		return nil
	}
	byName := map[string]json.RawMessage{}
	for _, d := range defs {
		byName[d.key] = d.value
	}
	// Everything outside the definitions is a root; a definition is used if
	// a root, or a used definition, refers to it.
	used := map[string]bool{}
	var queue []string
	for i, m := range top {
		if i == di {
			continue
		}
		for _, match := range ref.FindAllSubmatch(m.value, -1) {
			queue = append(queue, string(match[1]))
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if used[name] {
			continue
		}
		used[name] = true
		for _, match := range ref.FindAllSubmatch(byName[name], -1) {
			queue = append(queue, string(match[1]))
		}
	}
	var kept []member
	var dropped []string
	for _, d := range defs {
		if used[d.key] {
			kept = append(kept, d)
		} else {
			dropped = append(dropped, d.key)
		}
	}
	top[di].value = object(kept)
	var out bytes.Buffer
	if err := json.Indent(&out, object(top), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	if len(dropped) > 0 {
		fmt.Printf("openapitidy: removed unused definitions %s\n", strings.Join(dropped, ", "))
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
