package postgres

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The batch statements send one array per column (a write batch of 64
// events sends about 55 arrays). pgx encodes an array element by element
// through its generic path: each element boxed in an interface, its type
// looked up, its encoder called; in a profile of the write path that was
// a tenth of the CPU. flatArrays registers, on every connection, codecs
// for the four array types those statements bind (text[], float8[],
// int8[], timestamptz[]) that write a Go slice of the element type
// straight into PostgreSQL's binary array format. Any other value (a
// slice of pointers, with NULLs; a pgtype array) goes to pgx's own codec.
func flatArrays(_ context.Context, c *pgx.Conn) error {
	m := c.TypeMap()
	for _, a := range []struct {
		array, elem uint32
	}{
		{pgtype.TextArrayOID, pgtype.TextOID},
		{pgtype.Float8ArrayOID, pgtype.Float8OID},
		{pgtype.Int8ArrayOID, pgtype.Int8OID},
		{pgtype.TimestamptzArrayOID, pgtype.TimestamptzOID},
	} {
		t, ok := m.TypeForOID(a.array)
		if !ok {
			continue
		}
		generic, ok := t.Codec.(*pgtype.ArrayCodec)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: flatArrayCodec{ArrayCodec: generic, elem: a.elem}})
	}
	return nil
}

// flatArrayCodec is pgx's array codec with a direct binary encoder for
// flat slices of the element type.
type flatArrayCodec struct {
	*pgtype.ArrayCodec
	elem uint32
}

func (c flatArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case []string:
			if c.elem == pgtype.TextOID {
				return flatPlan[string]{elem: c.elem, put: putText}
			}
		case []float64:
			if c.elem == pgtype.Float8OID {
				return flatPlan[float64]{elem: c.elem, put: putFloat8}
			}
		case []int64:
			if c.elem == pgtype.Int8OID {
				return flatPlan[int64]{elem: c.elem, put: putInt8}
			}
		case []time.Time:
			if c.elem == pgtype.TimestamptzOID {
				return flatPlan[time.Time]{elem: c.elem, put: putTimestamptz}
			}
		}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

// flatPlan writes a one-dimensional array without NULLs: the header
// (dimensions, a NULL flag, the element type, the length and lower bound
// 1), then each element as its length and its bytes. An empty slice is an
// array of no dimensions, as PostgreSQL writes '{}'.
type flatPlan[T any] struct {
	elem uint32
	put  func(buf []byte, v T) []byte
}

func (p flatPlan[T]) Encode(value any, buf []byte) ([]byte, error) {
	vs := value.([]T)
	if vs == nil {
		return nil, nil // NULL, as pgx encodes a nil slice
	}
	if len(vs) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0) // dimensions
		buf = binary.BigEndian.AppendUint32(buf, 0) // no NULLs
		return binary.BigEndian.AppendUint32(buf, p.elem), nil
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, p.elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(vs)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, v := range vs {
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		buf = p.put(buf, v)
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

func putText(buf []byte, s string) []byte { return append(buf, s...) }
func putFloat8(buf []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
}
func putInt8(buf []byte, n int64) []byte { return binary.BigEndian.AppendUint64(buf, uint64(n)) }
func putTimestamptz(buf []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(t.UnixMicro()-y2kMicros))
}

// y2kMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix
// microseconds.
var y2kMicros = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
