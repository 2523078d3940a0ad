package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeError writes an error in the gateway's own JSON shape
// ({"code", "message", "details"}), for errors raised before a request
// reaches the gRPC server.
func writeError(w http.ResponseWriter, httpCode, grpcCode int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpCode)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": grpcCode, "message": msg, "details": []any{}})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
