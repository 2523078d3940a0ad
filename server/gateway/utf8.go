package gateway

import (
	"net/http"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// requireUTF8 rejects a request whose path or query, once unescaped, is not
// valid UTF-8 (for example /v1/customers/%80). The gateway would copy such
// bytes into a proto string field, which the gRPC client then refuses to
// marshal: a 500 for a client's mistake. Found by FuzzRESTDecoding.
func requireUTF8(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, "the request path is not valid UTF-8")
			return
		}
		for k, vs := range r.URL.Query() {
			ok := utf8.ValidString(k)
			for _, v := range vs {
				ok = ok && utf8.ValidString(v)
			}
			if !ok {
				writeError(w, http.StatusBadRequest, codes.InvalidArgument, "query parameter "+quoteASCII(k)+" is not valid UTF-8")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// quoteASCII quotes s for a message, escaping anything outside printable
// ASCII so the message itself stays valid UTF-8.
func quoteASCII(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
			continue
		}
		const hex = "0123456789abcdef"
		b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return string(append(b, '"'))
}
