package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
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
