// Package ops serves the operational routes every imagegen process has,
// whatever else it serves: /healthz (the process is up), /readyz (its
// dependencies answer) and /metrics (Prometheus). They need no token, so
// they carry nothing secret: readiness names a failing dependency but never
// its error text, which may hold an endpoint or a bucket name.
package ops

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Check is one readiness probe.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Options are what the routes report on.
type Options struct {
	Checks  []Check
	Metrics http.Handler // nil: no /metrics route
	Logger  *slog.Logger // failing checks are logged here
}

// Routes returns the operational routes, pattern to handler.
func Routes(opts Options) map[string]http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := map[string]http.Handler{
		"GET /healthz": http.HandlerFunc(healthz),
		"GET /readyz":  readyHandler(opts.Logger, opts.Checks),
	}
	if opts.Metrics != nil {
		r["GET /metrics"] = opts.Metrics
	}
	return r
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`+"\n")
}

// readyHandler answers 200 when every dependency answers, 503 otherwise.
func readyHandler(log *slog.Logger, checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		results := map[string]string{}
		status := http.StatusOK
		for _, c := range checks {
			if err := c.Run(ctx); err != nil {
				log.Warn("readiness check failed", "check", c.Name, "error", err)
				results[c.Name] = "unavailable"
				status = http.StatusServiceUnavailable
				continue
			}
			results[c.Name] = "ok"
		}
		overall := "ready"
		if status != http.StatusOK {
			overall = "not ready"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"status": overall, "checks": results})
	})
}
