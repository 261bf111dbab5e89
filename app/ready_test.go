package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
)

// TestEachModeAnnouncesWhatItServes holds the ready line's attributes to
// what each composition runs: a worker serves no MCP, and serve and worker
// name the Temporal they talk to.
func TestEachModeAnnouncesWhatItServes(t *testing.T) {
	s := sharedDev(t)
	temporal := s.app.TemporalAddress
	for _, tc := range []struct {
		name     string
		start    func(context.Context, config.Config, *slog.Logger) (*app.App, error)
		want     []string
		wantNone []string
	}{
		{"serve", testkit.Serve, []string{"temporal", "namespace", "mcp", "sse", "gallery", "ops"}, []string{"provider", "data_dir"}},
		{"worker", testkit.Worker, []string{"temporal", "namespace", "ops", "provider", "data_dir"}, []string{"mcp", "sse", "gallery"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, err := tc.start(ctx, config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), TemporalAddress: temporal, TemporalAPIKey: s.app.TemporalAPIKey()}, logging.New(io.Discard, "text", "error"))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			got := attrs(a.Serves())
			for _, k := range tc.want {
				if got[k] == "" {
					t.Errorf("%s ready line lacks %s: %v", tc.name, k, got)
				}
			}
			for _, k := range tc.wantNone {
				if _, ok := got[k]; ok {
					t.Errorf("%s ready line has %s=%s, which it does not serve", tc.name, k, got[k])
				}
			}
			if got["temporal"] != temporal {
				t.Errorf("temporal=%q, want %q", got["temporal"], temporal)
			}
			if got["ops"] != "http://"+a.Addr {
				t.Errorf("ops=%q, want http://%s", got["ops"], a.Addr)
			}
		})
	}
}

func attrs(kv []any) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
	}
	return m
}
