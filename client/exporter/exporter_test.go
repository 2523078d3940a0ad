package exporter_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goodwill-ledger/goodwill/client/exporter"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func sampleEvents(n int) []*goodwillv1.Event {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	out := make([]*goodwillv1.Event, n)
	for i := range out {
		m := float64(1 + i%7)
		out[i] = &goodwillv1.Event{EventId: fmt.Sprintf("ev%05d", i), CustomerId: fmt.Sprintf("c%03d", i%100),
			Kind: goodwillv1.EventKind_EVENT_KIND_OUTAGE, Magnitude: &m, OccurredAt: timestamppb.New(at.Add(time.Duration(i) * time.Minute)),
			RecordedAt: timestamppb.New(at), IdempotencyKey: fmt.Sprintf("k%d", i), Source: "crm", Note: "a, \"quoted\" note",
			Attributes: map[string]string{"channel": "web"}}
	}
	return out
}

// A Parquet export reads back through an independent implementation
// (Apache Arrow's): every row, with the column types the export promises.
func TestParquetReadsBackElsewhere(t *testing.T) {
	events := sampleEvents(5000) // several of the writer's buffers
	var buf bytes.Buffer
	w, err := exporter.Events(&buf, exporter.Parquet)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if rdr.NumRows() != int64(len(events)) {
		t.Fatalf("%d rows, want %d", rdr.NumRows(), len(events))
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	table, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	types := map[string]arrow.Type{}
	for _, f := range table.Schema().Fields() {
		types[f.Name] = f.Type.ID()
	}
	want := map[string]arrow.Type{"event_id": arrow.STRING, "customer_id": arrow.STRING, "kind": arrow.STRING,
		"magnitude": arrow.FLOAT64, "occurred_at": arrow.TIMESTAMP, "recorded_at": arrow.TIMESTAMP, "attributes": arrow.MAP}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("column %s: type %v, want %v", name, types[name], typ)
		}
	}
	// Spot-check values: the last row's id and occurred_at.
	idx := table.Schema().FieldIndices("occurred_at")[0]
	col := table.Column(idx).Data().Chunks()
	last := col[len(col)-1].(*array.Timestamp)
	unit := table.Schema().Field(idx).Type.(*arrow.TimestampType).Unit
	got := last.Value(last.Len() - 1).ToTime(unit)
	if !got.Equal(events[len(events)-1].GetOccurredAt().AsTime()) {
		t.Errorf("last occurred_at %v, want %v", got, events[len(events)-1].GetOccurredAt().AsTime())
	}
}

// CSV has a header and quotes what needs quoting; JSON lines are the API's
// JSON, which parses back into the same event.
func TestCSVAndJSONLines(t *testing.T) {
	events := sampleEvents(3)
	var c, j bytes.Buffer
	cw, err := exporter.Events(&c, exporter.CSV)
	if err != nil {
		t.Fatal(err)
	}
	jw, err := exporter.Events(&j, exporter.JSONL)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := cw.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := jw.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	cw.Close()
	jw.Close()
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "event_id" || recs[1][2] != "outage" || recs[1][8] != `a, "quoted" note` ||
		recs[1][12] != `{"channel":"web"}` || recs[1][4] != "2024-05-01T12:00:00Z" {
		t.Fatalf("CSV: %v", recs)
	}
	lines := strings.Split(strings.TrimSpace(j.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	var back goodwillv1.Event
	if err := protojson.Unmarshal([]byte(lines[2]), &back); err != nil || back.GetEventId() != "ev00002" || back.GetMagnitude() != 3 {
		t.Fatalf("line 3 reads back as %v (%v)", &back, err)
	}
}
