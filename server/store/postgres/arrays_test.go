package postgres

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// The flat array encoders send what pgx's generic codec sends: each
// value goes to the database once through a connection with them and
// once through one without, and the database's text form of the two must
// be the same (and each value must come back as it went, for the types
// whose Go value round-trips exactly).
func TestFlatArraysEncodeAsPgxDoes(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			url := pgtest.FreshDB(t, srv)
			ctx := t.Context()
			plain, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { plain.Close(ctx) })
			flat, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { flat.Close(ctx) })
			if err := flatArrays(ctx, flat); err != nil {
				t.Fatal(err)
			}
			paris, err := time.LoadLocation("Europe/Paris")
			if err != nil {
				paris = time.FixedZone("UTC+1", 3600)
			}
			cases := []struct {
				name, cast string
				value      any
			}{
				{"text", "TEXT[]", []string{"", "a", "c1234", "é ünïcode ✓", `quo"te, comma {brace} back\slash`, "NULL", strings.Repeat("x", 5000)}},
				{"text, one", "TEXT[]", []string{"only"}},
				{"text, empty", "TEXT[]", []string{}},
				{"text, nil", "TEXT[]", []string(nil)},
				{"float8", "FLOAT8[]", []float64{0, math.Copysign(0, -1), 1.5, -2.25, 1e-300, 1e300, math.MaxFloat64,
					math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}},
				{"float8, empty", "FLOAT8[]", []float64{}},
				{"int8", "INT8[]", []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 40}},
				{"timestamptz", "TIMESTAMPTZ[]", []time.Time{
					time.Date(2026, 12, 2, 13, 4, 5, 123456789, time.UTC),
					time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
					time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
					time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC),
					time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
					time.Date(2026, 3, 29, 2, 30, 0, 1000, paris),
					time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
				}},
				{"timestamptz, empty", "TIMESTAMPTZ[]", []time.Time{}},
			}
			if _, err := plain.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
				t.Fatal(err)
			}
			if _, err := flat.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				q := "SELECT $1::" + c.cast + "::TEXT"
				var want, got *string
				if err := plain.QueryRow(ctx, q, c.value).Scan(&want); err != nil {
					t.Fatalf("%s through pgx's codec: %v", c.name, err)
				}
				if err := flat.QueryRow(ctx, q, c.value).Scan(&got); err != nil {
					t.Fatalf("%s through the flat codec: %v", c.name, err)
				}
				if (want == nil) != (got == nil) || want != nil && *want != *got {
					t.Errorf("%s: the database read %s through the flat codec, %s through pgx's", c.name, show(got), show(want))
				}
			}
			// The flat codec is the one in use, and it leaves other shapes to
			// pgx: a slice of pointers, with a NULL.
			if _, ok := flat.TypeMap().TypeForOID(1009); !ok {
				t.Fatal("no text[] type registered")
			}
			if tp, _ := flat.TypeMap().TypeForOID(1009); tp != nil {
				if _, ok := tp.Codec.(flatArrayCodec); !ok {
					t.Fatalf("text[] codec is %T, not the flat one", tp.Codec)
				}
			}
			one := 1.5
			var text string
			if err := flat.QueryRow(ctx, "SELECT $1::FLOAT8[]::TEXT", []*float64{&one, nil}).Scan(&text); err != nil || text != "{1.5,NULL}" {
				t.Fatalf("a slice of pointers: %q, %v", text, err)
			}
		})
	}
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	if len(*s) > 80 {
		return (*s)[:80] + "..."
	}
	return *s
}
