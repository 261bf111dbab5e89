package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/mcpserver"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

const testToken = "e2e-secret-token-0123456789"

// stack is one running dev service with a fake Workers AI behind it.
type stack struct {
	app  *app.App
	fake *workersaitest.Server
	cfg  config.Config
	logs *syncBuffer
}

// shared is started once for the tests that only need "a running service".
var (
	sharedOnce  sync.Once
	sharedStack *stack
	sharedErr   error
)

func sharedDev(t *testing.T) *stack {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imagegen-e2e-")
		if err != nil {
			sharedErr = err
			return
		}
		fake := workersaitest.NewServer()
		sharedStack, sharedErr = startDev(dir, fake)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedStack
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedStack != nil {
		sharedStack.app.Close()
		sharedStack.fake.Close()
		os.RemoveAll(sharedStack.cfg.DataDir)
	}
	os.Exit(code)
}

func devConfig(dir string, fake *workersaitest.Server) config.Config {
	return config.Config{
		Addr: "127.0.0.1:0", DataDir: dir, AuthToken: testToken,
		TemporalPort: 0, UIPort: -1,
		CloudflareAccountID: fake.AccountID, CloudflareAPIToken: fake.APIToken, CloudflareBaseURL: fake.URL,
		MaxWait: 20 * time.Second,
	}
}

func startDev(dir string, fake *workersaitest.Server) (*stack, error) {
	logs := &syncBuffer{}
	cfg := devConfig(dir, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(logs, "json", "debug"))
	if err != nil {
		return nil, err
	}
	return &stack{app: a, fake: fake, cfg: cfg, logs: logs}, nil
}

func newStreamableClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := testkit.StreamableClient(ctx, url, token, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func initClient(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testkit.Connect(ctx, c, "e2e"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, out, err := testkit.CallTool(ctx, c, name, args)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res, out
}

func get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestOriginalToolsOverStreamableHTTP walks the original system's README flow
// through mcp-go's Streamable HTTP client against the real service.
func TestOriginalToolsOverStreamableHTTP(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)

	// One call: generate and wait (FLUX answers with a base64 JPEG).
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "a golden sunset over the ocean", "model": "flux-schnell"})
	if res.IsError || out["done"] != true {
		t.Fatalf("generate_image_and_wait: %+v", out)
	}
	job := out["job"].(map[string]any)
	if job["status"] != "completed" || job["content_type"] != "image/jpeg" {
		t.Fatalf("job = %+v", job)
	}
	status, ctype, body := get(t, job["image_url"].(string))
	if status != 200 || ctype != "image/jpeg" || imagegen.SniffImageType(body) != "image/jpeg" {
		t.Fatalf("image url served %d %s (%d bytes)", status, ctype, len(body))
	}
	if res.StructuredContent == nil {
		t.Error("no structured content")
	}

	// Two calls: start, then wait (SDXL answers with raw PNG).
	_, started := callTool(t, c, "generate_image", map[string]any{"prompt": "a mountain landscape", "model": "sdxl-lightning"})
	id, _ := started["job_id"].(string)
	if started["status"] != "pending" || id == "" {
		t.Fatalf("generate_image = %+v", started)
	}
	res, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	if res.IsError || out["done"] != true {
		t.Fatalf("wait_for_completion = %+v", out)
	}
	_, st := callTool(t, c, "get_job_status", map[string]any{"job_id": id})
	if st["status"] != "completed" || st["model"] != "sdxl-lightning" || st["prompt"] != "a mountain landscape" || !strings.HasSuffix(st["image_url"].(string), ".png") {
		t.Fatalf("get_job_status = %+v", st)
	}

	// Lists come from Temporal visibility, which is eventually consistent.
	waitFor(t, "both jobs in list_generations", func() bool {
		_, gens := callTool(t, c, "list_generations", map[string]any{"limit": 50})
		return containsJob(gens["generations"], id) && containsJob(gens["generations"], job["job_id"].(string))
	})
	_, jl := callTool(t, c, "list_jobs", map[string]any{"status": "completed"})
	if !containsJob(jl["jobs"], id) {
		t.Errorf("list_jobs completed misses %s", id)
	}
	_, pending := callTool(t, c, "list_jobs", map[string]any{"status": "failed"})
	if containsJob(pending["jobs"], id) {
		t.Errorf("list_jobs failed lists completed job %s", id)
	}
}

func TestWaitForCompletionReturnsStatusOnTimeout(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	s.fake.SetDelay(3 * time.Second)
	t.Cleanup(func() { s.fake.SetDelay(0) })
	_, started := callTool(t, c, "generate_image", map[string]any{"prompt": "slow", "model": "sdxl-base"})
	id := started["job_id"].(string)
	res, out := callTool(t, c, "wait_for_completion", map[string]any{"job_id": id, "timeout_seconds": 1})
	if res.IsError || out["done"] != false || !strings.Contains(out["message"].(string), "Call wait_for_completion") {
		t.Fatalf("timeout answer = %+v", out)
	}
	if st := out["job"].(map[string]any)["status"]; st != "pending" && st != "processing" {
		t.Errorf("status on timeout = %v", st)
	}
	res, out = callTool(t, c, "wait_for_completion", map[string]any{"job_id": id})
	if res.IsError || out["done"] != true {
		t.Fatalf("second wait = %+v", out)
	}
}

func TestFailedJobIsAToolErrorThatSaysWhatToDo(t *testing.T) {
	s := sharedDev(t)
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	before := s.fake.Calls()
	s.fake.FailNext(1, 429, 4006, "you have used up your daily free allocation of 10,000 neurons")
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "quota"})
	if !res.IsError {
		t.Fatalf("quota failure not an error: %+v", out)
	}
	msg := out["message"].(string)
	if !strings.Contains(msg, "tomorrow") || out["job"].(map[string]any)["status"] != "failed" {
		t.Errorf("failure message %q does not tell the model to try tomorrow", msg)
	}
	if got := s.fake.Calls() - before; got != 1 {
		t.Errorf("provider calls for a daily-quota failure = %d, want 1 (no retry)", got)
	}
}

func TestSSEAndOfficialSDKClientsSeeTheSameTools(t *testing.T) {
	s := sharedDev(t)

	sse, err := client.NewSSEMCPClient(s.app.SSEURL, transport.WithHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, sse)
	res, out := callTool(t, sse, "generate_image_and_wait", map[string]any{"prompt": "over sse"})
	if res.IsError || out["done"] != true {
		t.Fatalf("over SSE: %+v", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sdk := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "interop", Version: "1"}, nil)
	session, err := sdk.Connect(ctx, &sdkmcp.StreamableClientTransport{
		Endpoint: s.app.MCPURL, HTTPClient: &http.Client{Transport: bearer{testToken}}, DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tool := range tools.Tools {
		seen[tool.Name] = true
	}
	for _, name := range []string{"generate_image", "get_job_status", "list_generations", "list_jobs", "wait_for_completion", "generate_image_and_wait"} {
		if !seen[name] {
			t.Errorf("official SDK does not see tool %s", name)
		}
	}
	r, err := session.CallTool(ctx, &sdkmcp.CallToolParams{Name: "generate_image_and_wait", Arguments: map[string]any{"prompt": "interop", "model": "sdxl-base"}})
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := json.Marshal(r.StructuredContent)
	if r.IsError || !strings.Contains(string(sc), `"status":"completed"`) {
		t.Fatalf("official SDK generate_image_and_wait: %s", sc)
	}
	r, err = session.CallTool(ctx, &sdkmcp.CallToolParams{Name: "list_jobs", Arguments: map[string]any{"status": "bogus"}})
	if err != nil || !r.IsError {
		t.Fatalf("official SDK bad status: err %v isError %v", err, r != nil && r.IsError)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestAuthIsRequiredOnMCPRoutesOnly(t *testing.T) {
	s := sharedDev(t)
	base := "http://" + s.app.Addr
	for _, tc := range []struct {
		name, method, path, auth string
		want                     int
	}{
		{"mcp without token", "POST", "/mcp", "", 401},
		{"mcp with wrong token", "POST", "/mcp", "Bearer nope", 401},
		{"mcp with token of other length", "POST", "/mcp", "Bearer " + testToken + "x", 401},
		{"mcp with basic auth", "POST", "/mcp", "Basic " + testToken, 401},
		{"sse without token", "GET", "/sse", "", 401},
		{"message without token", "POST", "/message?sessionId=x", "", 401},
		{"healthz is open", "GET", "/healthz", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if strings.Contains(string(body), testToken) {
				t.Errorf("response leaks the token")
			}
		})
	}
	if strings.Contains(s.logs.String(), testToken) || strings.Contains(s.logs.String(), s.fake.APIToken) {
		t.Error("logs contain a secret")
	}
}

func TestCurlExamplesOfTheOriginalWork(t *testing.T) {
	s := sharedDev(t)
	post := func(body string) map[string]any {
		req, _ := http.NewRequest("POST", s.app.MCPURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("status %d, not JSON: %s", resp.StatusCode, b)
		}
		return out
	}
	// As in the original README: a bare tools/list without initialize.
	out := post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	tools, _ := out["result"].(map[string]any)["tools"].([]any)
	if len(tools) < 6 || !strings.Contains(toJSON(tools), `"name":"generate_image_and_wait"`) {
		t.Fatalf("tools/list = %v", out)
	}
	out = post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"generate_image","arguments":{"prompt":"a mountain landscape"}}}`)
	text := out["result"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
	var started map[string]any
	json.Unmarshal([]byte(text), &started)
	if started["status"] != "pending" {
		t.Fatalf("generate_image via curl = %s", text)
	}
	out = post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"wait_for_completion","arguments":{"job_id":"` + started["job_id"].(string) + `"}}}`)
	if !strings.Contains(toJSON(out), `\"status\": \"completed\"`) {
		t.Fatalf("wait via curl = %s", toJSON(out))
	}
	// Malformed JSON-RPC gets a JSON-RPC error, not a 500.
	out = post(`{"jsonrpc":"2.0","id":4,"method":`)
	if out["error"] == nil {
		t.Fatalf("invalid JSON answered %v", out)
	}
}

func TestJobsSurviveARestartOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	s, err := startDev(dir, fake)
	if err != nil {
		t.Fatal(err)
	}
	c := newStreamableClient(t, s.app.MCPURL, testToken)
	_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "persist me"})
	id := out["job"].(map[string]any)["job_id"].(string)
	url := out["job"].(map[string]any)["image_url"].(string)
	c.Close()
	if err := s.app.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s2, err := startDev(dir, fake)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { s2.app.Close() })
	c2 := newStreamableClient(t, s2.app.MCPURL, testToken)
	_, st := callTool(t, c2, "get_job_status", map[string]any{"job_id": id})
	if st["status"] != "completed" {
		t.Fatalf("after restart get_job_status = %+v", st)
	}
	waitFor(t, "job listed after restart", func() bool {
		_, gens := callTool(t, c2, "list_generations", map[string]any{})
		return containsJob(gens["generations"], id)
	})
	// The image file survived too (the URL names the old port; ask the new one).
	path := url[strings.Index(url, "/images/"):]
	if status, _, body := get(t, "http://"+s2.app.Addr+path); status != 200 || len(body) == 0 {
		t.Errorf("image after restart: %d, %d bytes", status, len(body))
	}
}

func TestStartupRefusesBadConfiguration(t *testing.T) {
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	busy := sharedDev(t).app.Addr
	for _, tc := range []struct {
		name   string
		mutate func(*config.Config)
		want   string
	}{
		{"half a Cloudflare credential", func(c *config.Config) { c.CloudflareAPIToken = "" }, "CLOUDFLARE_ACCOUNT_ID is set but CLOUDFLARE_API_TOKEN is not"},
		{"bucket without keys", func(c *config.Config) { c.R2Bucket = "images" }, "R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY missing"},
		{"keys without bucket", func(c *config.Config) { c.R2AccessKeyID, c.R2SecretAccessKey = "k", "s" }, "R2_BUCKET missing"},
		{"unknown provider", func(c *config.Config) { c.Provider = "dalle" }, "is not a provider"},
		{"no token on a public address", func(c *config.Config) { c.AuthToken = ""; c.Addr = "0.0.0.0:0" }, "without IMAGEGEN_AUTH_TOKEN"},
		{"port in use", func(c *config.Config) { c.Addr = busy }, "listen on " + busy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := devConfig(t.TempDir(), fake)
			tc.mutate(&cfg)
			a, err := testkit.Dev(context.Background(), cfg, logging.New(io.Discard, "text", "error"))
			if err == nil {
				a.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), fake.APIToken) {
				t.Error("error leaks the API token")
			}
		})
	}
	t.Run("unreachable Temporal names the address", func(t *testing.T) {
		cfg := config.Config{Addr: "127.0.0.1:0", TemporalAddress: "127.0.0.1:1", DataDir: t.TempDir()}
		_, err := testkit.Serve(context.Background(), cfg, logging.New(io.Discard, "text", "error"))
		if err == nil || !strings.Contains(err.Error(), "cannot reach Temporal at 127.0.0.1:1") {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestCheckListenAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"10.1.2.3:8080", "", false},
		{"0.0.0.0:8080", "tok", false}, // a short token, guessable over the network
		{"0.0.0.0:8080", "0123456789abcdef0123456789abcdef", true},
		{"127.0.0.1:8080", "tok", true},
	} {
		if err := mcpserver.CheckListenAddr(tc.addr, tc.token); (err == nil) != tc.ok {
			t.Errorf("CheckListenAddr(%q, token=%v) = %v, want ok=%v", tc.addr, tc.token != "", err, tc.ok)
		}
	}
}

func containsJob(list any, id string) bool {
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["job_id"] == id {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// syncBuffer collects a stack's logs (the test kit's buffer).
type syncBuffer = testkit.LogBuffer
