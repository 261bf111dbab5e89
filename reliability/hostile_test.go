package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

// JSON-RPC error codes.
const (
	parseError     = -32700
	invalidRequest = -32600
	methodNotFound = -32601
	invalidParams  = -32602
)

// wrongToken is a near miss of the real token: it must be refused and never
// logged either.
const wrongToken = testToken + "-near-miss"

const someJobID = "00000000-0000-4000-8000-000000000000"

// hostileStack is one dev service whose every log line is kept.
type hostileStack struct {
	app  *app.App
	fake *workersaitest.Server
	logs *syncBuffer
	base string
	http *http.Client
}

func startHostileStack(t *testing.T) *hostileStack {
	t.Helper()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, devConfig(t.TempDir(), fake), logging.New(logs, "json", "debug"))
	if err != nil {
		t.Fatalf("start service: %v\n%s", err, tail(logs.String(), 6000))
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("service logs:\n%s", tail(logs.String(), 6000))
		}
	})
	return &hostileStack{app: a, fake: fake, logs: logs, base: "http://" + a.Addr,
		http: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// generateWorkflows counts every GenerateImage workflow Temporal knows of.
func (h *hostileStack) generateWorkflows(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := h.app.Temporal().CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName),
	})
	if err != nil {
		t.Fatalf("count workflows: %v", err)
	}
	return resp.GetCount()
}

// outcome is what one hostile input got back, whatever the transport.
type outcome struct {
	status  int    // HTTP status; 200 for calls through an mcp-go client
	body    string // raw HTTP body or the text of the result, for leak checks
	rpcCode int    // JSON-RPC error code; 0 when the answer is not one
	rpcMsg  string
	toolErr bool // a tool result with isError
	text    string
	noReply bool // an SSE request whose answer never came on the stream
}

func (o outcome) String() string {
	return fmt.Sprintf("HTTP %d, rpc error %d %q, tool error %v %q, body %.300q", o.status, o.rpcCode, o.rpcMsg, o.toolErr, o.text, o.body)
}

// expect is the clear answer a hostile input must get.
type expect struct {
	status  int    // HTTP status (0: 200 or 202, the answer in the body or on the stream)
	rpcCode int    // JSON-RPC error code expected (0: none)
	tool    string // a tool error saying this
	says    string // the HTTP body or JSON-RPC message says this
}

type hostileCase struct {
	name string
	send func(t *testing.T) outcome
	want expect
}

// TestHostileClientsGetClearErrorsAndStartNothing sends a table of hostile
// inputs over both HTTP transports to one dev stack and checks each gets a
// clear error (a tool error with a sentence, or a JSON-RPC error with the
// right code), never a 5xx or a panic; that none of it started a workflow or
// reached the provider; that the service still serves afterwards; that every
// MCP route wants the token and checks Origin and Host; and that no token
// shows in any body, log line or metric.
func TestHostileClientsGetClearErrorsAndStartNothing(t *testing.T) {
	// mcp-go and net/http report recovered panics through the standard logger.
	stdlog := &syncBuffer{}
	prev := log.Writer()
	log.SetOutput(stdlog)
	t.Cleanup(func() { log.SetOutput(prev) })

	h := startHostileStack(t)
	streamable := newClient(t, h.app.MCPURL)
	sse, err := client.NewSSEMCPClient(h.app.SSEURL, transport.WithHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, sse)
	raw := openSSE(t, h, testToken)
	raw.initialize(t, h)

	workflowsBefore := h.generateWorkflows(t)
	providerBefore := h.fake.Calls()

	cases := hostileCases(h, streamable, sse, raw)
	var bodies []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.send(t)
			bodies = append(bodies, got.body, got.text, got.rpcMsg)
			checkHostile(t, tc.want, got)
		})
	}
	t.Logf("%d hostile inputs", len(cases))

	t.Run("none of it started a workflow or reached the provider", func(t *testing.T) {
		if got := h.generateWorkflows(t); got != workflowsBefore {
			t.Errorf("GenerateImage workflows: %d before the table, %d after", workflowsBefore, got)
		}
		if got := h.fake.Calls(); got != providerBefore {
			t.Errorf("provider calls: %d before the table, %d after", providerBefore, got)
		}
	})

	t.Run("auth", func(t *testing.T) { bodies = append(bodies, checkAuth(t, h)...) })
	t.Run("origin and host", func(t *testing.T) { bodies = append(bodies, checkOriginAndHost(t, h)...) })

	// Valid Unicode is valid: an emoji-only prompt with a zero-width joiner
	// and a right-to-left override goes through, over both transports, and
	// reaches the provider unchanged.
	var imageURL string
	t.Run("still serving", func(t *testing.T) {
		for name, c := range map[string]*client.Client{"streamable": streamable, "sse": sse} {
			prompt := "👨‍👩‍👧 \u202eevil\u202c 🌙 " + name
			res, out := mustCall(t, c, "generate_image_and_wait", map[string]any{"prompt": prompt})
			job, _ := out["job"].(map[string]any)
			if res.IsError || job["status"] != "completed" || job["prompt"] != prompt {
				t.Fatalf("%s: healthy call after the table: %v", name, out)
			}
			if n := h.fake.CallsForPrompt(prompt); n != 1 {
				t.Errorf("%s: the provider saw the prompt %d times, want 1", name, n)
			}
			imageURL, _ = job["image_url"].(string)
		}
		// Visibility is eventually consistent: once the two healthy jobs are
		// counted, any job the table had started would be counted too.
		waitFor(t, 30*time.Second, "the healthy jobs in visibility", func() bool {
			return h.generateWorkflows(t) >= workflowsBefore+2
		})
		if got := h.generateWorkflows(t); got != workflowsBefore+2 {
			t.Errorf("GenerateImage workflows = %d, want %d (the two healthy calls only)", got, workflowsBefore+2)
		}
	})

	t.Run("unauthenticated routes leak nothing", func(t *testing.T) {
		paths := []string{"/healthz", "/readyz", "/metrics", "/login", "/images/", "/images/../../etc/passwd",
			"/images/%2e%2e/%2e%2e/etc/passwd", "/images/nope.png"}
		if imageURL != "" {
			u, err := url.Parse(imageURL)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, u.Path)
		}
		for _, p := range paths {
			resp := h.do(t, "GET", p, nil, nil)
			if resp.status >= 500 {
				t.Errorf("GET %s: %d", p, resp.status)
			}
			bodies = append(bodies, resp.body)
		}
	})

	t.Run("no secret in any body, log line or metric", func(t *testing.T) {
		metrics := h.do(t, "GET", "/metrics", nil, nil).body
		for _, secret := range []struct{ name, value string }{
			{"the MCP token", testToken}, {"the near-miss token", wrongToken},
			{"the Cloudflare token", h.fake.APIToken}, {"the Cloudflare account id", h.fake.AccountID},
		} {
			for i, b := range bodies {
				if strings.Contains(b, secret.value) {
					t.Errorf("response %d contains %s: %.200q", i, secret.name, b)
				}
			}
			if strings.Contains(h.logs.String(), secret.value) {
				t.Errorf("service logs contain %s", secret.name)
			}
			if strings.Contains(stdlog.String(), secret.value) {
				t.Errorf("standard log contains %s", secret.name)
			}
			if strings.Contains(metrics, secret.value) {
				t.Errorf("metrics contain %s", secret.name)
			}
		}
		if strings.Contains(metrics, "delete_") {
			t.Error("unknown tool names became metric labels")
		}
		for _, l := range []string{h.logs.String(), stdlog.String()} {
			if strings.Contains(strings.ToLower(l), "panic") {
				t.Errorf("a panic was logged: %s", tail(l[strings.Index(strings.ToLower(l), "panic"):], 2000))
			}
		}
	})
}

// checkHostile holds an outcome to the universal rules and the case's own.
func checkHostile(t *testing.T, want expect, got outcome) {
	t.Helper()
	if got.status >= 500 {
		t.Fatalf("server error: %v", got)
	}
	if got.noReply {
		t.Fatalf("no answer: %v", got)
	}
	for _, s := range []string{got.body, got.text, got.rpcMsg} {
		if strings.Contains(strings.ToLower(s), "panic") || strings.Contains(s, "goroutine ") {
			t.Fatalf("the answer reports a panic: %v", got)
		}
	}
	switch {
	case want.status != 0 && got.status != want.status:
		t.Errorf("status %d, want %d: %v", got.status, want.status, got)
	case want.status == 0 && got.status != 200 && got.status != 202:
		t.Errorf("status %d, want the answer in a 200 body or on the stream: %v", got.status, got)
	}
	if want.rpcCode != 0 {
		if got.rpcCode != want.rpcCode || len(strings.Fields(got.rpcMsg)) == 0 {
			t.Errorf("want a JSON-RPC error %d with a message, got %v", want.rpcCode, got)
		}
	}
	if want.tool != "" {
		if got.rpcCode != 0 || !got.toolErr || !strings.Contains(got.text, want.tool) {
			t.Errorf("want a tool error saying %q, got %v", want.tool, got)
		}
		if len(strings.Fields(got.text)) < 4 {
			t.Errorf("tool error %q is no sentence", got.text)
		}
	}
	if got.status >= 400 && len(strings.Fields(got.body)) < 2 {
		t.Errorf("a %d without a reason: %v", got.status, got)
	}
	if got.toolErr && len(got.text) > 1000 {
		t.Errorf("the tool error echoes the input back (%d bytes)", len(got.text))
	}
	if want.says != "" && !strings.Contains(got.body+got.rpcMsg, want.says) {
		t.Errorf("answer does not say %q: %v", want.says, got)
	}
}

func hostileCases(h *hostileStack, streamable, sse *client.Client, raw *sseConn) []hostileCase {
	uuid := "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	long := strings.Repeat("a", 2049)
	longRunes := strings.Repeat("é", 2048) + "x" // 2049 characters, 4098 bytes
	var cases []hostileCase

	// Tool arguments, each through both mcp-go clients.
	tools := []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"missing prompt", "generate_image", map[string]any{}, "prompt is required"},
		{"prompt of the wrong type", "generate_image", map[string]any{"prompt": 42}, `"prompt" must be of type string`},
		{"prompt as an array", "generate_image_and_wait", map[string]any{"prompt": []string{"a cat"}}, `"prompt" must be of type string`},
		{"extra field", "generate_image", map[string]any{"prompt": "cat", "size": "1024x1024"}, `unknown argument "size"`},
		{"2049-character prompt", "generate_image", map[string]any{"prompt": long}, "2049 characters long; the limit is 2048"},
		{"2049 two-byte characters", "generate_image_and_wait", map[string]any{"prompt": longRunes}, "2049 characters long"},
		{"blank prompt", "generate_image", map[string]any{"prompt": " \t\n\u00a0\u3000"}, "prompt is empty"},
		{"NUL in the prompt", "generate_image", map[string]any{"prompt": "a\x00b"}, "NUL"},
		// Valid text, so the model check (after the prompt's) is what fails.
		{"RTL override is valid text", "generate_image", map[string]any{"prompt": "\u202eevil\u202c cat", "model": "dall-e-3"}, "unknown model"},
		{"zero-width joiner emoji is valid text", "generate_image", map[string]any{"prompt": "👨‍👩‍👧", "model": "dall-e-3"}, "unknown model"},
		{"emoji-only prompt is valid text", "generate_image", map[string]any{"prompt": "🐱🌙✨", "model": "dall-e-3"}, "unknown model"},
		{"invisible-only prompt is empty", "generate_image", map[string]any{"prompt": "\u200b\u200d\u2060"}, "prompt is empty"},
		{"n of 1e30", "generate_image", map[string]any{"prompt": "cat", "n": 1e30}, `"n" must be of type integer`},
		{"negative n", "generate_image", map[string]any{"prompt": "cat", "n": -1}, "n must be between 1 and 4"},
		{"2049-character negative prompt", "generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "negative_prompt": long}, "negative_prompt is 2049 characters long"},
		{"NUL in the negative prompt", "generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "negative_prompt": "x\x00"}, "negative_prompt contains a NUL"},
		{"negative seed", "generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "seed": -1}, "seed must be zero or positive"},
		{"huge guidance", "generate_image", map[string]any{"prompt": "cat", "model": "sdxl-base", "guidance": 1e30}, "out of range"},
		{"blank idempotency key", "generate_image", map[string]any{"prompt": "cat", "idempotency_key": "   "}, "idempotency_key must be"},
		{"NUL in the idempotency key", "generate_image", map[string]any{"prompt": "cat", "idempotency_key": "k\x00"}, "no NUL"},
		{"path-like job id", "get_job_status", map[string]any{"job_id": "../../etc/passwd"}, "is not a job id"},
		{"10 KB job id", "get_job_status", map[string]any{"job_id": strings.Repeat("f", 10<<10)}, "is not a job id"},
		{"upper-case job id", "get_job_status", map[string]any{"job_id": strings.ToUpper(uuid)}, "is not a job id"},
		{"job id with a trailing newline", "wait_for_completion", map[string]any{"job_id": uuid + "\n"}, "is not a job id"},
		{"null job id", "cancel_job", map[string]any{"job_id": nil}, "job_id is required"},
		{"SQL in the job id", "cancel_job", map[string]any{"job_id": "'; DROP TABLE jobs; --"}, "is not a job id"},
		{"unknown job id", "retry_job", map[string]any{"job_id": someJobID}, "no job with that job_id"},
		{"timeout as a string", "wait_for_completion", map[string]any{"job_id": uuid, "timeout_seconds": "10"}, `"timeout_seconds" must be of type integer`},
		{"negative timeout", "wait_for_completion", map[string]any{"job_id": uuid, "timeout_seconds": -1}, "timeout_seconds must be between 1 and 30"},
		{"negative limit", "list_generations", map[string]any{"limit": -1}, "limit must be between 1 and 50"},
		{"limit of 1e30", "list_generations", map[string]any{"limit": 1e30}, `"limit" must be of type integer`},
		{"limit as a string", "list_jobs", map[string]any{"limit": "10"}, `"limit" must be of type integer`},
		{"negative offset", "list_jobs", map[string]any{"offset": -1}, "offset must be between 0 and 10000"},
		{"huge offset", "list_jobs", map[string]any{"offset": 1e9}, "offset must be between 0 and 10000"},
		{"status with a NUL", "list_jobs", map[string]any{"status": "completed\x00"}, "unknown status"},
		{"status as an operator object", "list_jobs", map[string]any{"status": map[string]any{"$ne": nil}}, `"status" must be of type string`},
		{"extra field on list_models", "list_models", map[string]any{"verbose": true}, `unknown argument "verbose"`},
		{"extra field on retry_job", "retry_job", map[string]any{"job_id": uuid, "force": true}, `unknown argument "force"`},
	}
	for _, tc := range tools {
		for _, via := range []struct {
			name string
			c    *client.Client
		}{{"streamable", streamable}, {"sse", sse}} {
			cases = append(cases, hostileCase{
				name: via.name + "/" + tc.name,
				send: func(t *testing.T) outcome { return viaClient(t, via.c, tc.tool, tc.args) },
				want: expect{tool: tc.want},
			})
		}
	}
	cases = append(cases,
		hostileCase{"streamable/unknown tool", func(t *testing.T) outcome { return viaClient(t, streamable, "delete_everything", nil) },
			expect{rpcCode: invalidParams}},
		hostileCase{"sse/unknown tool", func(t *testing.T) outcome { return viaClient(t, sse, "delete_everything", nil) },
			expect{rpcCode: invalidParams}},
	)

	// Raw JSON-RPC over Streamable HTTP (/mcp).
	call := func(id int, tool, args string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
	}
	nested := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	tenMB := call(1, "generate_image", `{"prompt":"`+strings.Repeat("a", 10<<20)+`"}`)
	justOver := call(1, "generate_image", `{"prompt":"`+strings.Repeat("a", 1<<20)+`"}`)
	mcpRaw := []struct {
		name, body, ctype string
		want              expect
	}{
		{"invalid JSON", `{"jsonrpc":"2.0","id":4,"method":`, "", expect{status: 400, rpcCode: parseError}},
		{"empty body", ``, "", expect{status: 400, rpcCode: parseError}},
		{"wrong content type", call(1, "generate_image", `{"prompt":"cat"}`), "text/plain", expect{status: 400, says: "application/json"}},
		{"form content type", "prompt=cat", "application/x-www-form-urlencoded", expect{status: 400, says: "application/json"}},
		{"batch of calls", "[" + call(1, "generate_image", `{"prompt":"batch one"}`) + "," + call(2, "generate_image", `{"prompt":"batch two"}`) + "]", "", expect{status: 400, rpcCode: parseError}},
		{"unknown method", `{"jsonrpc":"2.0","id":5,"method":"tools/destroy","params":{}}`, "", expect{rpcCode: methodNotFound}},
		{"method of the wrong type", `{"jsonrpc":"2.0","id":5,"method":42}`, "", expect{status: 400, rpcCode: parseError}},
		{"tools/call without params", `{"jsonrpc":"2.0","id":6,"method":"tools/call"}`, "", expect{rpcCode: invalidParams}},
		{"unknown tool", call(7, "delete_everything", `{}`), "", expect{rpcCode: invalidParams}},
		{"10 KB tool name", call(7, "delete_"+strings.Repeat("x", 10<<10), `{}`), "", expect{rpcCode: invalidParams}},
		{"arguments as an array", call(8, "generate_image", `["a cat"]`), "", expect{tool: "arguments must be a JSON object"}},
		{"arguments as a string", call(9, "list_jobs", `"all"`), "", expect{tool: "arguments must be a JSON object"}},
		{"invalid UTF-8 in the prompt", call(10, "generate_image", "{\"prompt\":\"a \xff\xfe cat\"}"), "", expect{tool: "not valid UTF-8"}},
		{"overlong UTF-8 slash in the job id", call(11, "get_job_status", "{\"job_id\":\"..\xc0\xaf..\"}"), "", expect{tool: "not valid UTF-8"}},
		{"lone surrogate escape is replaced, not raw", call(12, "generate_image", `{"prompt":"\ud800","model":"dall-e-3"}`), "", expect{tool: "unknown model"}},
		{"deeply nested arguments", call(13, "generate_image", nested), "", expect{status: 400, rpcCode: parseError}},
		{"10 MB prompt", tenMB, "", expect{status: 400, rpcCode: parseError, says: "too large"}},
		{"body just over 1 MiB", justOver, "", expect{status: 400, rpcCode: parseError, says: "too large"}},
		{"JSON-RPC 1.0", `{"jsonrpc":"1.0","id":14,"method":"tools/list"}`, "", expect{rpcCode: invalidRequest}},
		{"unsolicited response", `{"jsonrpc":"2.0","id":15,"result":{"content":[]}}`, "", expect{status: 400}},
	}
	for _, tc := range mcpRaw {
		cases = append(cases, hostileCase{
			name: "raw /mcp/" + tc.name,
			send: func(t *testing.T) outcome { return h.postMCP(t, tc.body, tc.ctype, nil) },
			want: tc.want,
		})
	}
	cases = append(cases,
		hostileCase{"raw /mcp/unsupported protocol version header", func(t *testing.T) outcome {
			return h.postMCP(t, `{"jsonrpc":"2.0","id":16,"method":"tools/list"}`, "", map[string]string{"Mcp-Protocol-Version": "1999-01-01"})
		}, expect{status: 400}},
		hostileCase{"raw /mcp/PUT", func(t *testing.T) outcome {
			return h.do(t, "PUT", "/mcp", strings.NewReader(`{}`), map[string]string{"Authorization": "Bearer " + testToken})
		}, expect{status: 404}},
	)

	// Raw JSON-RPC over SSE (/message), to a live session and to none.
	sseRaw := []struct {
		name, body string
		want       expect
	}{
		{"invalid JSON", `{"jsonrpc":"2.0","id":4,"method":`, expect{status: 400, rpcCode: parseError}},
		{"empty body", ``, expect{status: 400, rpcCode: parseError}},
		{"10 MB prompt", tenMB, expect{status: 400, rpcCode: parseError}},
		{"deeply nested arguments", call(20, "generate_image", nested), expect{status: 400, rpcCode: parseError}},
		{"batch of calls", "[" + call(21, "generate_image", `{"prompt":"batch one"}`) + "," + call(22, "generate_image", `{"prompt":"batch two"}`) + "]", expect{rpcCode: parseError}},
		{"unknown method", `{"jsonrpc":"2.0","id":23,"method":"tools/destroy","params":{}}`, expect{rpcCode: methodNotFound}},
		{"tools/call without params", `{"jsonrpc":"2.0","id":24,"method":"tools/call"}`, expect{rpcCode: invalidParams}},
		{"unknown tool", call(25, "delete_everything", `{}`), expect{rpcCode: invalidParams}},
		{"invalid UTF-8 in the prompt", call(26, "generate_image", "{\"prompt\":\"\xff\"}"), expect{tool: "not valid UTF-8"}},
		{"arguments as a number", call(27, "generate_image", `42`), expect{tool: "arguments must be a JSON object"}},
		{"10 KB job id", call(28, "cancel_job", `{"job_id":"`+strings.Repeat("9", 10<<10)+`"}`), expect{tool: "is not a job id"}},
	}
	for _, tc := range sseRaw {
		cases = append(cases, hostileCase{
			name: "raw /message/" + tc.name,
			send: func(t *testing.T) outcome { return raw.post(t, h, raw.endpoint, tc.body, "") },
			want: tc.want,
		})
	}
	cases = append(cases,
		hostileCase{"raw /message/no session id", func(t *testing.T) outcome {
			return raw.post(t, h, h.base+"/message", call(30, "list_models", `{}`), "")
		}, expect{status: 400, rpcCode: invalidParams}},
		hostileCase{"raw /message/unknown session id", func(t *testing.T) outcome {
			return raw.post(t, h, h.base+"/message?sessionId="+someJobID, call(31, "list_models", `{}`), "")
		}, expect{status: 400, rpcCode: invalidParams}},
		hostileCase{"raw /message/path-like session id", func(t *testing.T) outcome {
			return raw.post(t, h, h.base+"/message?sessionId=..%2F..%2Fetc%2Fpasswd", call(32, "list_models", `{}`), "")
		}, expect{status: 400, rpcCode: invalidParams}},
		hostileCase{"raw /message/GET", func(t *testing.T) outcome {
			return h.do(t, "GET", "/message?sessionId=x", nil, map[string]string{"Authorization": "Bearer " + testToken})
		}, expect{status: 400, rpcCode: invalidRequest}},
	)
	return cases
}

// viaClient calls a tool through an mcp-go client.
func viaClient(t *testing.T, c *client.Client, tool string, args map[string]any) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	if args != nil {
		req.Params.Arguments = args
	}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		o := outcome{status: 200, rpcMsg: err.Error()}
		for code, sentinel := range map[int]error{parseError: mcp.ErrParseError, invalidRequest: mcp.ErrInvalidRequest,
			methodNotFound: mcp.ErrMethodNotFound, invalidParams: mcp.ErrInvalidParams} {
			if errors.Is(err, sentinel) {
				o.rpcCode = code
			}
		}
		if o.rpcCode == 0 {
			t.Fatalf("%s: transport failure: %v", tool, err)
		}
		return o
	}
	o := outcome{status: 200, toolErr: res.IsError}
	for _, content := range res.Content {
		if tc, ok := content.(mcp.TextContent); ok {
			o.text += tc.Text
		}
	}
	o.body = o.text
	return o
}

type httpAnswer struct {
	status int
	header http.Header
	body   string
}

// do sends one raw request to the stack.
func (h *hostileStack) do(t *testing.T, method, path string, body io.Reader, header map[string]string) outcome {
	t.Helper()
	a := h.send(t, method, path, body, header)
	return outcomeOf(a)
}

func (h *hostileStack) send(t *testing.T, method, path string, body io.Reader, header map[string]string) httpAnswer {
	t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = h.base + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return httpAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// postMCP posts a JSON-RPC body to /mcp as a Streamable HTTP client would.
func (h *hostileStack) postMCP(t *testing.T, body, ctype string, extra map[string]string) outcome {
	t.Helper()
	if ctype == "" {
		ctype = "application/json"
	}
	header := map[string]string{"Content-Type": ctype, "Accept": "application/json, text/event-stream", "Authorization": "Bearer " + testToken}
	for k, v := range extra {
		header[k] = v
	}
	return h.do(t, "POST", "/mcp", strings.NewReader(body), header)
}

// outcomeOf reads a JSON-RPC answer (plain JSON or one SSE event) from an
// HTTP answer.
func outcomeOf(a httpAnswer) outcome {
	o := outcome{status: a.status, body: a.body}
	payload := a.body
	if strings.HasPrefix(a.header.Get("Content-Type"), "text/event-stream") {
		payload = ""
		for _, line := range strings.Split(a.body, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				payload = d
			}
		}
	}
	var msg map[string]any
	if json.Unmarshal([]byte(payload), &msg) == nil {
		readRPC(&o, msg)
	}
	return o
}

func readRPC(o *outcome, msg map[string]any) {
	if e, ok := msg["error"].(map[string]any); ok {
		code, _ := e["code"].(float64)
		o.rpcCode = int(code)
		o.rpcMsg, _ = e["message"].(string)
		return
	}
	if r, ok := msg["result"].(map[string]any); ok {
		o.toolErr, _ = r["isError"].(bool)
		contents, _ := r["content"].([]any)
		for _, c := range contents {
			if m, ok := c.(map[string]any); ok && m["type"] == "text" {
				s, _ := m["text"].(string)
				o.text += s
			}
		}
	}
}

// sseConn is a hand-driven SSE session: the stream's events are read
// raw, and messages are posted raw to its endpoint.
type sseConn struct {
	endpoint string
	events   chan sseEvent
	cancel   context.CancelFunc
}

type sseEvent struct{ name, data string }

// openSSE opens GET /sse and waits for the endpoint event.
func openSSE(t *testing.T, h *hostileStack, token string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", h.app.SSEURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET /sse: %d", resp.StatusCode)
	}
	c := &sseConn{events: make(chan sseEvent, 64), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					select {
					case c.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event:"):
				ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				ev.data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			}
		}
	}()
	t.Cleanup(cancel)
	select {
	case ev, ok := <-c.events:
		if !ok || ev.name != "endpoint" {
			t.Fatalf("first SSE event %+v, want the endpoint", ev)
		}
		c.endpoint = ev.data
		if strings.HasPrefix(c.endpoint, "/") {
			c.endpoint = h.base + c.endpoint
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no endpoint event on /sse")
	}
	return c
}

// initialize completes the MCP handshake on the raw session.
func (c *sseConn) initialize(t *testing.T, h *hostileStack) {
	t.Helper()
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}}`, mcp.LATEST_PROTOCOL_VERSION)
	if o := c.post(t, h, c.endpoint, init, ""); o.rpcCode != 0 || o.status != 202 {
		t.Fatalf("initialize over raw SSE: %v", o)
	}
	if a := h.send(t, "POST", c.endpoint, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`),
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testToken}); a.status != 202 {
		t.Fatalf("notifications/initialized: %d %s", a.status, a.body)
	}
}

// post sends a message to an SSE message endpoint. An accepted message (202)
// is answered on the stream: the next response there is its outcome.
func (c *sseConn) post(t *testing.T, h *hostileStack, endpoint, body, ctype string) outcome {
	t.Helper()
	if ctype == "" {
		ctype = "application/json"
	}
	a := h.send(t, "POST", endpoint, strings.NewReader(body), map[string]string{"Content-Type": ctype, "Authorization": "Bearer " + testToken})
	if a.status != http.StatusAccepted {
		return outcomeOf(a)
	}
	o := outcome{status: a.status}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("the SSE stream ended")
			}
			var msg map[string]any
			if ev.name != "message" || json.Unmarshal([]byte(ev.data), &msg) != nil {
				continue
			}
			if _, isRequest := msg["method"]; isRequest {
				continue // a ping or a notification from the server
			}
			o.body = ev.data
			readRPC(&o, msg)
			return o
		case <-timeout:
			o.noReply = true
			return o
		}
	}
}

func initClient(t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "hostile", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatal(err)
	}
}

// checkAuth: every MCP route wants the token, the gallery wants a login,
// and the open routes are open. It returns the bodies it saw.
func checkAuth(t *testing.T, h *hostileStack) []string {
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	var bodies []string
	for _, tc := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"/mcp without a token", "POST", "/mcp", "", list, 401},
		{"/mcp with a wrong token", "POST", "/mcp", "Bearer " + wrongToken, list, 401},
		{"/mcp with the token as Basic auth", "POST", "/mcp", "Basic " + testToken, list, 401},
		{"/mcp with the token in lower-case bearer (RFC 6750: the scheme is case-insensitive)", "POST", "/mcp", "bearer " + testToken, list, 200},
		{"/mcp with the token in the query string", "POST", "/mcp?token=" + testToken + "&access_token=" + testToken, "", list, 401},
		{"/mcp with the token", "POST", "/mcp", "Bearer " + testToken, list, 200},
		{"/sse without a token", "GET", "/sse", "", "", 401},
		{"/sse with a wrong token", "GET", "/sse", "Bearer " + wrongToken, "", 401},
		{"/message without a token", "POST", "/message?sessionId=x", "", list, 401},
		{"/message with a wrong token", "POST", "/message?sessionId=x", "Bearer " + wrongToken, list, 401},
		{"/message with the token (unknown session)", "POST", "/message?sessionId=x", "Bearer " + testToken, list, 400},
		{"gallery without a cookie", "GET", "/", "", "", 303},
		{"gallery with the bearer token but no cookie", "GET", "/", "Bearer " + testToken, "", 303},
		{"healthz is open", "GET", "/healthz", "", "", 200},
		{"readyz is open", "GET", "/readyz", "", "", 200},
		{"metrics are open", "GET", "/metrics", "", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
			if tc.auth != "" {
				header["Authorization"] = tc.auth
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			a := h.send(t, tc.method, tc.path, body, header)
			bodies = append(bodies, a.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", a.status, tc.want, a.body)
			}
			switch tc.want {
			case 401:
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(a.body, "bearer token") {
					t.Errorf("401 without WWW-Authenticate: Bearer and a reason: %q %s", a.header.Get("WWW-Authenticate"), a.body)
				}
			case 303:
				if a.header.Get("Location") != "/login" {
					t.Errorf("gallery redirects to %q, want /login", a.header.Get("Location"))
				}
			}
		})
	}
	t.Run("/sse with the token opens a stream", func(t *testing.T) {
		c := openSSE(t, h, testToken)
		c.cancel()
	})
	t.Run("gallery login wants the token", func(t *testing.T) {
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		wrong := h.send(t, "POST", "/login", strings.NewReader(url.Values{"token": {wrongToken}}.Encode()), form)
		bodies = append(bodies, wrong.body)
		if wrong.status != 401 || len(wrong.header.Values("Set-Cookie")) != 0 {
			t.Errorf("login with a wrong token: %d, cookies %v", wrong.status, wrong.header.Values("Set-Cookie"))
		}
		right := h.send(t, "POST", "/login", strings.NewReader(url.Values{"token": {testToken}}.Encode()), form)
		cookie := right.header.Get("Set-Cookie")
		if right.status != 303 || cookie == "" || strings.Contains(cookie, testToken) {
			t.Fatalf("login with the token: %d, cookie %q", right.status, cookie)
		}
		name, value, _ := strings.Cut(strings.Split(cookie, ";")[0], "=")
		page := h.send(t, "GET", "/", nil, map[string]string{"Cookie": name + "=" + value})
		bodies = append(bodies, page.body)
		if page.status != 200 {
			t.Errorf("gallery with the login cookie: %d", page.status)
		}
		forged := h.send(t, "GET", "/", nil, map[string]string{"Cookie": name + "=9999999999.AAAA"})
		if forged.status != 303 {
			t.Errorf("gallery with a forged cookie: %d", forged.status)
		}
	})
	return bodies
}

// checkOriginAndHost: a browser page of another origin cannot drive the MCP
// routes (Origin check), nor can a DNS-rebound name reach them on loopback
// (the server's Host check, in front of every route).
func checkOriginAndHost(t *testing.T, h *hostileStack) []string {
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	_, port, _ := strings.Cut(h.app.Addr, ":")
	var bodies []string
	for _, tc := range []struct {
		name, method, path, origin, host, says string
		want                                   int
	}{
		{"foreign origin on /mcp", "POST", "/mcp", "https://evil.example", "", "origin not allowed", 403},
		{"null origin on /mcp", "POST", "/mcp", "null", "", "origin not allowed", 403},
		{"foreign origin on /sse", "GET", "/sse", "https://evil.example", "", "origin not allowed", 403},
		{"foreign origin on /message", "POST", "/message?sessionId=x", "http://evil.example:" + port, "", "origin not allowed", 403},
		{"loopback origin on /mcp", "POST", "/mcp", "http://localhost:6274", "", "", 200},
		{"rebound host on /mcp", "POST", "/mcp", "", "evil.example", "invalid Host header", 403},
		{"rebound host with the port on /mcp", "POST", "/mcp", "", "evil.example:" + port, "invalid Host header", 403},
		{"rebound host on /sse", "GET", "/sse", "", "evil.example", "invalid Host header", 403},
		{"rebound host on /message", "POST", "/message?sessionId=x", "", "evil.example", "invalid Host header", 403},
		{"rebound host and its own origin on /mcp", "POST", "/mcp", "http://evil.example", "evil.example", "invalid Host header", 403},
		{"localhost host on /mcp", "POST", "/mcp", "", "localhost:" + port, "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
				"Authorization": "Bearer " + testToken}
			if tc.origin != "" {
				header["Origin"] = tc.origin
			}
			if tc.host != "" {
				header["Host"] = tc.host
			}
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(list)
			}
			a := h.send(t, tc.method, tc.path, body, header)
			bodies = append(bodies, a.body)
			if a.status != tc.want || !strings.Contains(a.body, tc.says) {
				t.Errorf("status %d %.200q, want %d saying %q", a.status, a.body, tc.want, tc.says)
			}
		})
	}
	// The Host check guards the whole mux, so a rebound page cannot even
	// learn that a token is required.
	t.Run("the host is checked before the token", func(t *testing.T) {
		a := h.send(t, "POST", "/mcp", strings.NewReader(list), map[string]string{"Content-Type": "application/json", "Host": "evil.example"})
		if a.status != 403 || strings.Contains(a.body, "token") {
			t.Errorf("rebound host without a token: %d %.200q, want 403 without a word of the token", a.status, a.body)
		}
	})
	for _, route := range []string{"/", "/login", "/readyz", "/metrics", "/images/", "/healthz"} {
		t.Run("rebound host on "+route, func(t *testing.T) {
			a := h.send(t, "GET", route, nil, map[string]string{"Host": "evil.example"})
			bodies = append(bodies, a.body)
			if a.status != 403 || !strings.Contains(a.body, "invalid Host header") {
				t.Errorf("GET %s with a rebound host: %d %.200q, want 403 invalid Host header", route, a.status, a.body)
			}
		})
	}
	return bodies
}
