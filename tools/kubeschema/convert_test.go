package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The names kubeconform's default template gives, as its own schema
// repository (yannh/kubernetes-json-schema) spells them.
func TestKindFile(t *testing.T) {
	for _, tc := range []struct{ kind, gv, want string }{
		{"Service", "v1", "service-v1.json"},
		{"Deployment", "apps/v1", "deployment-apps-v1.json"},
		{"NetworkPolicy", "networking.k8s.io/v1", "networkpolicy-networking-v1.json"},
		{"PodDisruptionBudget", "policy/v1", "poddisruptionbudget-policy-v1.json"},
		{"ClusterRole", "rbac.authorization.k8s.io/v1", "clusterrole-rbac-v1.json"},
		{"HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscaler-autoscaling-v2.json"},
	} {
		if got := kindFile(tc.kind, tc.gv); got != tc.want {
			t.Errorf("kindFile(%s, %s) = %s, want %s", tc.kind, tc.gv, got, tc.want)
		}
	}
	if got, want := openAPIFile("networking.k8s.io/v1"), "apis__networking.k8s.io__v1_openapi.json"; got != want {
		t.Errorf("openAPIFile = %s, want %s", got, want)
	}
	if got, want := openAPIFile("v1"), "api__v1_openapi.json"; got != want {
		t.Errorf("openAPIFile = %s, want %s", got, want)
	}
}

// A kind becomes one file holding what it reaches and nothing else, with
// references rewritten and every object that lists its fields closed.
func TestStandalone(t *testing.T) {
	var schemas map[string]map[string]any
	if err := json.Unmarshal([]byte(`{
		"x.Thing": {"description": "d", "type": "object", "properties": {
			"spec": {"allOf": [{"$ref": "#/components/schemas/x.Spec"}], "default": {}},
			"labels": {"type": "object", "additionalProperties": {"type": "string"}},
			"free": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true}
		}},
		"x.Spec": {"type": "object", "required": ["n"], "properties": {
			"n": {"type": "integer"},
			"items": {"type": "array", "items": {"$ref": "#/components/schemas/x.Item"}}
		}},
		"x.Item": {"type": "object", "properties": {"port": {"$ref": "#/components/schemas/x.IntOrString"}}},
		"x.IntOrString": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
		"x.Unused": {"type": "object", "properties": {}}
	}`), &schemas); err != nil {
		t.Fatal(err)
	}
	got, err := standalone(schemas, "x.Thing")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
		"$schema": "http://json-schema.org/draft-04/schema#",
		"type": "object", "additionalProperties": false, "properties": {
			"spec": {"allOf": [{"$ref": "#/definitions/x.Spec"}], "default": {}},
			"labels": {"type": "object", "additionalProperties": {"type": "string"}},
			"free": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true}
		},
		"definitions": {
			"x.Spec": {"type": "object", "required": ["n"], "additionalProperties": false, "properties": {
				"n": {"type": "integer"},
				"items": {"type": "array", "items": {"$ref": "#/definitions/x.Item"}}
			}},
			"x.Item": {"type": "object", "additionalProperties": false, "properties": {"port": {"$ref": "#/definitions/x.IntOrString"}}},
			"x.IntOrString": {"oneOf": [{"type": "integer"}, {"type": "string"}]}
		}
	}`), &want); err != nil {
		t.Fatal(err)
	}
	// Compare as JSON values: the decoded numbers and maps of both sides.
	g, _ := json.Marshal(got)
	var gotJSON map[string]any
	_ = json.Unmarshal(g, &gotJSON)
	if !reflect.DeepEqual(gotJSON, want) {
		t.Errorf("standalone =\n%s\nwant\n%s", g, mustJSON(want))
	}

	if _, err := standalone(map[string]map[string]any{"x.A": {"$ref": "#/components/schemas/x.Missing"}}, "x.A"); err == nil {
		t.Error("a reference to an undefined type was accepted")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
