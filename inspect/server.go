package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics from reg, /healthz, /readyz and the API, and with
// profiling the Go profiler's /debug/pprof/ endpoints (they show the
// process's internals: only on a trusted network).
func Handler(reg *prometheus.Registry, ready *Readiness, api *API, profiling bool) http.Handler {
	mux := http.NewServeMux()
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /readyz", ready)
	api.Register(mux)
	return mux
}

// Readiness answers /readyz: ready when the member is in a group
// generation and every dependency answers within a second.
type Readiness struct {
	Joined func() bool
	Checks map[string]func(context.Context) error
}

func (rd *Readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		notReady = make(map[string]string)
		wg       sync.WaitGroup
	)
	if !rd.Joined() {
		notReady["kafka"] = "not a member of a consumer group generation"
	}
	for name, check := range rd.Checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				mu.Lock()
				notReady[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(notReady) == 0 {
		io.WriteString(w, "ok\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(map[string]any{"ready": false, "not_ready": notReady})
}

// Serve serves h on ln until ctx ends, then shuts down within grace. It
// returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // Serve returns once Shutdown is called below
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}
