package mcpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workflows"
)

func httpServer(t *testing.T, j mcpserver.JobService, opts mcpserver.HTTPOptions) *httptest.Server {
	t.Helper()
	s := mcpserver.New(mcpserver.Options{Jobs: j, Version: "test"})
	h := s.NewHTTP(opts)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Shutdown(context.Background())
		srv.Close()
	})
	return srv
}

func startClient(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Start's context lives as long as the connection (the SSE stream).
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

func TestBothHTTPTransportsServeTheToolTable(t *testing.T) {
	done := jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusCompleted, ImageURL: "http://x/y.png"}
	srv := httpServer(t, &fakeJobs{job: done, done: true}, mcpserver.HTTPOptions{AuthToken: "tok"})
	headers := map[string]string{"Authorization": "Bearer tok"}
	sse, err := client.NewSSEMCPClient(srv.URL+"/sse", transport.WithHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	streamable, err := client.NewStreamableHttpClient(srv.URL+"/mcp", transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client.Client{"sse": sse, "streamable": streamable} {
		t.Run(name, func(t *testing.T) {
			startClient(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			if missing := missingOriginalTools(list.Tools); len(missing) > 0 {
				t.Fatalf("tools/list misses %v", missing)
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = "wait_for_completion"
			req.Params.Arguments = map[string]any{"job_id": done.ID}
			res, err := c.CallTool(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError || !strings.Contains(text(res), "http://x/y.png") {
				t.Fatalf("wait_for_completion: %s", text(res))
			}
		})
	}
}

func TestOversizeBodiesAreRefused(t *testing.T) {
	srv := httpServer(t, &fakeJobs{}, mcpserver.HTTPOptions{MaxBodyBytes: 1 << 10})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"generate_image","arguments":{"prompt":"` + strings.Repeat("a", 4<<10) + `"}}}`
	req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode == 500 {
		t.Errorf("oversize body answered %d, want a 4xx", resp.StatusCode)
	}
}

func TestForeignBrowserOriginsAreRefused(t *testing.T) {
	srv := httpServer(t, &fakeJobs{}, mcpserver.HTTPOptions{AllowedOrigins: []string{"https://chat.example.com"}})
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", 200},
		{"http://localhost:6274", 200},
		{"http://127.0.0.1:3000", 200},
		{"https://chat.example.com", 200},
		{"https://evil.example.net", 403},
		{"null", 403},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
}

func TestWaitingToolsRelayEachNewStageInOrder(t *testing.T) {
	done := jobs.Job{ID: "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd", Status: workflows.StatusCompleted, ImageURL: "http://x/y.png"}
	generating := jobs.Progress{Status: workflows.StatusProcessing, Stage: "generating"}
	f := &fakeJobs{job: done, done: true, stages: []jobs.Progress{
		{Status: workflows.StatusPending}, generating, generating,
		{Status: workflows.StatusProcessing, Stage: "storing"},
		generating, // a lost staged image is generated again: not news to the client
	}}
	srv := httpServer(t, f, mcpserver.HTTPOptions{})
	// The SSE transport: on Streamable HTTP mcp-go can drop a notification
	// sent right after a previous request (its forwarder lingers), which
	// would make this test about mcp-go.
	c, err := client.NewSSEMCPClient(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	startClient(t, c)
	var mu sync.Mutex
	var progress []float64
	var messages []string
	arrived := make(chan struct{}, 16)
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		p, _ := n.Params.AdditionalFields["progress"].(float64)
		m, _ := n.Params.AdditionalFields["message"].(string)
		progress = append(progress, p)
		messages = append(messages, m)
		arrived <- struct{}{}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func(meta *mcp.Meta) {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = "wait_for_completion"
		req.Params.Arguments = map[string]any{"job_id": done.ID}
		req.Params.Meta = meta
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			t.Fatalf("wait_for_completion: %v %s", err, text(res))
		}
	}
	call(&mcp.Meta{ProgressToken: "tok-1"})
	// Notifications travel beside the result: wait for the four (three
	// stages and done), whatever the order of arrival against the result.
	for range 4 {
		select {
		case <-arrived:
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("only progress %v arrived", progress)
		}
	}
	call(nil)

	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(progress) != "[1 2 3 4]" {
		t.Errorf("progress %v, want [1 2 3 4] (each stage once, in order, then done)", progress)
	}
	for i, stage := range []string{"pending (", "generating (", "storing (", "done: completed ("} {
		if i < len(messages) && !strings.HasPrefix(messages[i], stage) {
			t.Errorf("message %d = %q, want it to start with %q", i, messages[i], stage)
		}
	}
	// A call without a progress token does not ask the job layer for stages.
	if fmt.Sprint(f.listened) != "[true false]" {
		t.Errorf("watch listened %v, want [true false]", f.listened)
	}
}
