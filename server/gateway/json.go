package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// strictJSON decodes a request body as exactly one JSON value. The
// gateway's stock decoder reads the first value and ignores the rest, so
// `{"kind":...} garbage` would be accepted.
type strictJSON struct{ *runtime.JSONPb }

var errTrailing = errors.New("request body must be a single JSON value")

func (m strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		raw, err := io.ReadAll(r) // bounded by limitBody's MaxBytesReader
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fmt.Errorf("request body is larger than the limit of %d bytes", tooLarge.Limit)
		}
		if err != nil {
			return err
		}
		// The usual case in one pass: protojson takes exactly one value and
		// refuses anything after it. Only a body it refuses is read again,
		// below, to say which of the two is wrong.
		if pm, ok := v.(proto.Message); ok {
			if err := m.UnmarshalOptions.Unmarshal(raw, pm); err == nil {
				if fd := undeclaredEnum(pm.ProtoReflect()); fd != nil {
					return fmt.Errorf("%s holds a number its enum does not declare", fd.JSONName())
				}
				return nil
			}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		var first json.RawMessage
		if err := dec.Decode(&first); err != nil {
			return err
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errTrailing
		}
		return m.Unmarshal(first, v)
	})
}

// undeclaredEnum returns an enum field of m, or of a message within it,
// that holds a number its enum does not declare, or nil. protojson takes
// any number for an open enum; the REST API refuses one its schema does
// not list (bodyViolations then names the field and the values).
func undeclaredEnum(m protoreflect.Message) protoreflect.FieldDescriptor {
	var bad protoreflect.FieldDescriptor
	check := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch fd.Kind() {
		case protoreflect.EnumKind:
			if fd.Enum().Values().ByNumber(v.Enum()) == nil {
				bad = fd
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			bad = undeclaredEnum(v.Message())
		}
		return bad == nil
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len() && check(fd, l.Get(i)); i++ {
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool { return check(fd.MapValue(), mv) })
		default:
			check(fd, v)
		}
		return bad == nil
	})
	return bad
}
