package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// TestEveryRouteRefusesAReboundHost replays the rebinding probe of a dev
// stack without a token: evil.example resolved to 127.0.0.1 read the
// gallery (every prompt), /images/, /readyz and /metrics. Every route now
// answers a foreign Host with 403 and nothing else; loopback names and the
// configured host still work.
func TestEveryRouteRefusesAReboundHost(t *testing.T) {
	fake := workersaitest.NewServer()
	defer fake.Close()
	cfg := devConfig(t.TempDir(), fake)
	cfg.AuthToken = ""
	cfg.AllowedHosts = []string{"imagegen.lan"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const prompt = "a secret prompt about the quarterly numbers"
	job := generate(t, a.MCPURL, "", prompt)

	_, port, _ := strings.Cut(a.Addr, ":")
	base := "http://" + a.Addr
	routes := []string{"/", "/login", "/healthz", "/readyz", "/metrics", "/images/", "/images/" + job + ".png", "/mcp", "/sse"}
	for _, route := range routes {
		for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example:" + port} {
			t.Run(route+" as "+host, func(t *testing.T) {
				status, body := getAs(t, base+route, host)
				if status != http.StatusForbidden || !strings.Contains(body, "invalid Host header") || strings.Contains(body, prompt) {
					t.Errorf("GET %s with Host %s: %d %.200q, want 403 invalid Host header", route, host, status, body)
				}
			})
		}
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "imagegen.lan:" + port} {
		status, body := getAs(t, base+"/", host)
		if status != http.StatusOK || !strings.Contains(body, prompt) {
			t.Errorf("gallery with Host %s: %d, want 200 showing the job", host, status)
		}
		if status, _ := getAs(t, base+"/readyz", host); status != http.StatusOK {
			t.Errorf("/readyz with Host %s: %d, want 200", host, status)
		}
	}
}

func getAs(t *testing.T, url, host string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// generate runs one job to completion over MCP and returns its id.
func generate(t *testing.T, mcpURL, token, prompt string) string {
	t.Helper()
	c := newStreamableClient(t, mcpURL, token)
	defer c.Close()
	_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": prompt, "model": "sdxl-lightning"})
	job, _ := out["job"].(map[string]any)
	id, _ := job["job_id"].(string)
	if out["done"] != true || id == "" {
		t.Fatalf("generate_image_and_wait: %v", out)
	}
	return id
}
