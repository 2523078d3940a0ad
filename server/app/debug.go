package app

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer serves the profiler on DebugAddr, apart from the API: it has
// no authentication, so it must not share the API's port, and Complete
// holds DebugAddr to loopback. /debug/pprof/cmdline is left out: the
// command line can hold --db with its password (Index answers 404 for it).
func debugServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// serveUntilShutdown runs srv on lis until it is shut down.
func serveUntilShutdown(srv *http.Server, lis net.Listener) error {
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
