package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// promqlAggregations and promqlKeywords are the PromQL words that may
// stand, unlike a function, without "(" right after them: an aggregation
// takes its grouping first (sum by (le) (...)), and the others are
// operators and modifiers. None of them is a metric.
var (
	promqlAggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
	// promqlLabelLists are followed by a parenthesised list of label
	// names, not of expressions.
	promqlLabelLists = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
)

// promqlMetricNames returns the metric names a PromQL expression selects,
// in order of appearance: every bare identifier that is not a function
// (followed by "("), an aggregation, a keyword or a label in a grouping,
// plus any {__name__="..."}. Label matchers, strings, ranges and Grafana's
// $variables are skipped. It is a lexer, not a parser: enough to keep a
// dashboard's expressions honest, and tested below on the constructions
// dashboards use.
func promqlMetricNames(expr string) ([]string, error) {
	var names []string
	s := []rune(expr)
	i := 0
	skipLabelList := false
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // a comment, to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			end, name, err := skipMatchers(s, i)
			if err != nil {
				return nil, err
			}
			if name != "" {
				names = append(names, name)
			}
			i = end
		case c == '[':
			for i < len(s) && s[i] != ']' {
				i++
			}
			if i == len(s) {
				return nil, fmt.Errorf("%q: unclosed [", expr)
			}
			i++
		case c == '$': // a Grafana variable: $name or ${name}
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			} else {
				for i < len(s) && isIdentRune(s[i], false) {
					i++
				}
			}
		case c == '(' && skipLabelList:
			for i < len(s) && s[i] != ')' {
				i++
			}
			if i == len(s) {
				return nil, fmt.Errorf("%q: unclosed label list", expr)
			}
			i++
			skipLabelList = false
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// A number or a duration (0.99, 1e18, 5m, 0x1f).
			for i < len(s) && (isIdentRune(s[i], false) || s[i] == '.') {
				i++
			}
		case isIdentRune(c, true):
			start := i
			for i < len(s) && isIdentRune(s[i], false) {
				i++
			}
			word := string(s[start:i])
			next := i
			for next < len(s) && (s[next] == ' ' || s[next] == '\t' || s[next] == '\n') {
				next++
			}
			lower := strings.ToLower(word)
			switch {
			case slices.Contains(promqlLabelLists, lower):
				skipLabelList = true
			case next < len(s) && s[next] == '(':
				// a function or an aggregation: its arguments follow
			case slices.Contains(promqlAggregations, lower), slices.Contains(promqlKeywords, lower):
			default:
				names = append(names, word)
			}
		default:
			i++ // an operator, a comma, a parenthesis
		}
	}
	return names, nil
}

func isIdentRune(r rune, first bool) bool {
	return r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || !first && r >= '0' && r <= '9'
}

// skipString returns the index past the string starting at s[i].
func skipString(s []rune, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%q: unclosed string", string(s))
}

// skipMatchers returns the index past the label matchers starting at
// s[i] ("{"), and the metric name a __name__ matcher gives, if any.
func skipMatchers(s []rune, i int) (int, string, error) {
	name := ""
	j := i + 1
	for j < len(s) && s[j] != '}' {
		if s[j] == '"' || s[j] == '\'' || s[j] == '`' {
			end, err := skipString(s, j)
			if err != nil {
				return 0, "", err
			}
			j = end
			continue
		}
		if rest := string(s[j:]); strings.HasPrefix(rest, "__name__") {
			after := strings.TrimLeft(strings.TrimPrefix(rest, "__name__"), " ")
			if v, ok := strings.CutPrefix(after, "="); ok && !strings.HasPrefix(v, "~") {
				v = strings.TrimLeft(v, " ")
				if len(v) > 1 && v[0] == '"' {
					if end := strings.IndexByte(v[1:], '"'); end >= 0 {
						name = v[1 : 1+end]
					}
				}
			}
		}
		j++
	}
	if j == len(s) {
		return 0, "", fmt.Errorf("%q: unclosed {", string(s))
	}
	return j + 1, name, nil
}

// grafanaQueryMetricNames reads a Grafana variable query: label_values(
// selector, label) selects metrics only in its first argument;
// label_values(label) and label_names() select none.
func grafanaQueryMetricNames(q string) ([]string, error) {
	q = strings.TrimSpace(q)
	if inner, ok := strings.CutPrefix(q, "label_values("); ok {
		comma := strings.LastIndexByte(inner, ',')
		if comma < 0 {
			return nil, nil
		}
		return promqlMetricNames(inner[:comma])
	}
	if strings.HasPrefix(q, "label_names(") {
		return nil, nil
	}
	return promqlMetricNames(strings.TrimPrefix(strings.TrimPrefix(q, "query_result("), "metrics("))
}

func TestPromQLMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{job=~"$job"}[$__rate_interval]))`,
			[]string{"grpc_server_handling_seconds_bucket"}},
		{`histogram_quantile(0.99, sum(rate(a_bucket[5m])) by (le))`, []string{"a_bucket"}},
		{`sum without (instance) (x) / on(job) group_left(version) count by (version) (y)`, []string{"x", "y"}},
		{`max(a{j="$job"}) - max(b offset 1h) > bool 0`, []string{"a", "b"}},
		{`go_gc_gomemlimit_bytes < 1e18 and c unless d or e`, []string{"go_gc_gomemlimit_bytes", "c", "d", "e"}},
		{`{__name__="up", job="x"}`, []string{"up"}},
		{`sum(rate(x{a="}{[(\"by"}[5m]))`, []string{"x"}},
		{`max_over_time(deriv(m:recorded[5m:1m])[1h:]) @ start()`, []string{"m:recorded"}},
		{`count_values("v", goodwill_build_info) # a comment naming not_a_metric`, []string{"goodwill_build_info"}},
		{`topk(3, sum by (grpc_method) (z))`, []string{"z"}},
	} {
		got, err := promqlMetricNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("promqlMetricNames(%s) = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`x{a="b"`, `rate(x[5m)`, `x{a="b}`} {
		if _, err := promqlMetricNames(bad); err == nil {
			t.Errorf("promqlMetricNames(%s): no error", bad)
		}
	}
	for q, want := range map[string][]string{
		`label_values(goodwill_build_info{job=~"$job"}, instance)`: {"goodwill_build_info"},
		`label_values(job)`: nil,
		`label_names()`:     nil,
	} {
		if got, err := grafanaQueryMetricNames(q); err != nil || !slices.Equal(got, want) {
			t.Errorf("grafanaQueryMetricNames(%s) = %q, %v; want %q", q, got, err, want)
		}
	}
}
