package main

import (
	"math"
	"strings"
)

// sparks are the eight levels of a sparkline, lowest first.
var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as one line of block characters scaled between
// their minimum and maximum. A flat series is drawn at mid height: with
// nothing to compare, no point is "low". NaN and infinities are spaces.
func sparkline(values []float64) string {
	lo, hi := bounds(values)
	var b strings.Builder
	for _, v := range values {
		b.WriteRune(spark(v, lo, hi))
	}
	return b.String()
}

// spark is one value's level between lo and hi.
func spark(v, lo, hi float64) rune {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return ' '
	case hi <= lo:
		return sparks[len(sparks)/2-1]
	}
	i := int(math.Round((v - lo) / (hi - lo) * float64(len(sparks)-1)))
	return sparks[max(0, min(len(sparks)-1, i))]
}

// bounds are the smallest and largest finite values (both 0 when none).
func bounds(values []float64) (lo, hi float64) {
	first := true
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if first {
			lo, hi, first = v, v, false
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}
