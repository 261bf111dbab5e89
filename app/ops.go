package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// check is one readiness probe.
type check struct {
	name string
	run  func(ctx context.Context) error
}

// readyHandler answers 200 when every dependency answers, 503 otherwise. It
// names the failing dependency but never its error text (which may carry an
// endpoint or bucket name); the error goes to the log.
func readyHandler(log *slog.Logger, checks []check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		results := map[string]string{}
		status := http.StatusOK
		for _, c := range checks {
			if err := c.run(ctx); err != nil {
				log.Warn("readiness check failed", "check", c.name, "error", err)
				results[c.name] = "unavailable"
				status = http.StatusServiceUnavailable
				continue
			}
			results[c.name] = "ok"
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

func temporalCheck(c client.Client) check {
	return check{name: "temporal", run: func(ctx context.Context) error {
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}}
}

func storageCheck(s interface{ Check(context.Context) error }) check {
	return check{name: "storage", run: s.Check}
}
