package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// provider is the Workers AI stand-in the stack talks to: the wire-faithful
// fake behind a gate that can hold calls (the memory scenario needs jobs that
// stay running until it lets them finish). It outlives restarts of the app.
type provider struct {
	fake    *workersaitest.Server
	gate    *gate
	gateSrv *httptest.Server
	proxyTr *http.Transport
	answers *answerLog
}

func newProvider() *provider {
	fake := workersaitest.NewServer()
	target, _ := url.Parse(fake.URL) // the fake's own URL always parses
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = newTransport(64)
	g := &gate{next: proxy}
	p := &provider{fake: fake, gate: g, gateSrv: httptest.NewServer(g), proxyTr: proxy.Transport.(*http.Transport), answers: newAnswerLog()}
	fake.SetOnAnswer(func(req workersaitest.Request, at time.Time) {
		if prompt, ok := req.Body["prompt"].(string); ok {
			p.answers.record(prompt, at)
		}
	})
	return p
}

// config points an app at the provider with the CLOUDFLARE_* settings.
func (p *provider) config(c *config.Config) {
	c.CloudflareAccountID = p.fake.AccountID
	c.CloudflareAPIToken = p.fake.APIToken
	c.CloudflareBaseURL = p.gateSrv.URL
}

// dropIdle closes the idle keep-alive connections on the provider path
// (the worker's pool to the gate, the gate's to the fake). They are pooled
// per host, not per job, and would otherwise blur a goroutine count.
func (p *provider) dropIdle() {
	p.gateSrv.CloseClientConnections()
	p.proxyTr.CloseIdleConnections()
}

func (p *provider) close() {
	p.gate.release()
	p.gateSrv.CloseClientConnections()
	p.gateSrv.Close()
	p.fake.Close()
}

// gate forwards provider calls, or holds them while closed.
type gate struct {
	next    http.Handler
	mu      sync.Mutex
	held    chan struct{} // non-nil while holding
	waiting atomic.Int64
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held != nil {
		// Read the body first so that net/http notices a caller hanging up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.waiting.Add(1)
		select {
		case <-held:
			g.waiting.Add(-1)
		case <-r.Context().Done():
			g.waiting.Add(-1)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// hold makes later calls wait until release.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

// answerLog remembers when the provider answered each prompt. Prompts are
// unique per job, which is how an answer is matched to its job.
type answerLog struct {
	mu     sync.Mutex
	at     map[string]time.Time
	notify map[string]chan struct{}
}

func newAnswerLog() *answerLog {
	return &answerLog{at: map[string]time.Time{}, notify: map[string]chan struct{}{}}
}

func (l *answerLog) record(prompt string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.at[prompt]; dup {
		return // a retried call: the first answer is the one that counts
	}
	l.at[prompt] = at
	if ch, ok := l.notify[prompt]; ok {
		close(ch)
		delete(l.notify, prompt)
	}
}

// wait returns the answer time of prompt. The fake records it right after
// flushing the answer, which can be a hair after the rest of the system has
// already reacted, hence the wait.
func (l *answerLog) wait(ctx context.Context, prompt string) (time.Time, error) {
	l.mu.Lock()
	at, ok := l.at[prompt]
	ch := l.notify[prompt]
	if !ok && ch == nil {
		ch = make(chan struct{})
		l.notify[prompt] = ch
	}
	l.mu.Unlock()
	if ok {
		return at, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-ch:
	case <-ctx.Done():
		return time.Time{}, fmt.Errorf("the provider never answered prompt %q", prompt)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.at[prompt], nil
}

// appConfig is the dev stack the benchmark runs: loopback ports chosen by
// the system, no Web UI, a bearer token as a real deployment would have, and
// a long MaxWait so that a waiter in the memory scenario never gives up
// before its job is let go. The fake provider has no rate limit to respect,
// so IMAGEGEN_PROVIDER_RATE's Workers AI default (12/s) is off: it would
// measure the limit, not the system.
func appConfig(dir, token string, p *provider) config.Config {
	cfg := config.Config{
		Addr: "127.0.0.1:0", DataDir: dir, AuthToken: token,
		TemporalPort: 0, UIPort: -1,
		MaxWait:      5 * time.Minute,
		ProviderRate: "0",
	}
	p.config(&cfg)
	return cfg
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// quietLogger drops the service's info logs: one line per job would both
// drown the report and cost time inside the measurement.
func quietLogger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// newTransport gives each client its own connection pool, as separate
// processes would have, with enough idle connections that concurrent calls
// reuse them instead of dialing afresh each time.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
}

// mcpClient is one mcp-go Streamable HTTP client.
type mcpClient struct {
	c  *client.Client
	tr *http.Transport
}

// dialMCP connects and initializes a client. Start's context must outlive
// the connection, so the client gets its own, cancelled by close.
func dialMCP(ctx context.Context, url, token string, conns int) (*mcpClient, error) {
	tr := newTransport(conns)
	c, err := client.NewStreamableHttpClient(url,
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}),
		transport.WithHTTPBasicClient(&http.Client{Transport: tr}),
	)
	if err != nil {
		return nil, fmt.Errorf("mcp client: %w", err)
	}
	if err := c.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("mcp client start: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "imagegen-bench", Version: "1"}
	if _, err := c.Initialize(ictx, req); err != nil {
		c.Close()
		return nil, fmt.Errorf("mcp initialize: %w", err)
	}
	return &mcpClient{c: c, tr: tr}, nil
}

func (m *mcpClient) close() {
	m.c.Close()
	m.tr.CloseIdleConnections()
}

// toolResult is the decoded JSON text of a tool result.
type toolResult struct {
	IsError bool
	// Fields of StartResult, WaitResult and JobView that the benchmark reads.
	JobID   string `json:"job_id"`
	Status  string `json:"status"`
	Done    bool   `json:"done"`
	Message string `json:"message"`
	Job     struct {
		JobID     string `json:"job_id"`
		Status    string `json:"status"`
		UpdatedAt string `json:"updated_at"`
	} `json:"job"`
}

func (m *mcpClient) call(ctx context.Context, name string, args map[string]any) (toolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := m.c.CallTool(ctx, req)
	if err != nil {
		return toolResult{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return decodeToolText(name, tc.Text, res.IsError)
		}
	}
	return toolResult{}, fmt.Errorf("%s: no text content in the result", name)
}

func decodeToolText(name, text string, isError bool) (toolResult, error) {
	var r toolResult
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		// Some tool errors are plain sentences.
		r = toolResult{Message: text}
	}
	r.IsError = isError
	if isError {
		return r, fmt.Errorf("%s: tool error: %s", name, text)
	}
	return r, nil
}

// rawClient posts bare JSON-RPC tools/call requests: the server is
// stateless, so no initialize is needed, and one shared connection pool
// serves a thousand concurrent calls without a thousand mcp-go clients.
type rawClient struct {
	url, token string
	tr         *http.Transport
	hc         *http.Client
	ids        atomic.Int64
}

func newRawClient(url, token string, conns int) *rawClient {
	tr := newTransport(conns)
	return &rawClient{url: url, token: token, tr: tr, hc: &http.Client{Transport: tr}}
}

func (r *rawClient) call(ctx context.Context, name string, args map[string]any) (toolResult, error) {
	body, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": r.ids.Add(1), "method": "tools/call",
		"params": map[string]any{"name": name, "arguments": args},
	})
	if err != nil {
		return toolResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return toolResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return toolResult{}, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return toolResult{}, fmt.Errorf("%s: read answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return toolResult{}, fmt.Errorf("%s: HTTP %d: %s", name, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw = lastSSEData(raw)
	}
	var msg struct {
		Result *struct {
			IsError bool `json:"isError"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return toolResult{}, fmt.Errorf("%s: answer is not JSON-RPC: %w", name, err)
	}
	if msg.Error != nil {
		return toolResult{}, fmt.Errorf("%s: JSON-RPC error: %s", name, msg.Error.Message)
	}
	if msg.Result == nil || len(msg.Result.Content) == 0 {
		return toolResult{}, fmt.Errorf("%s: empty result", name)
	}
	return decodeToolText(name, msg.Result.Content[0].Text, msg.Result.IsError)
}

// lastSSEData returns the data of the last event in an SSE body: the
// server switches a POST answer to SSE when it sends notifications first,
// and the JSON-RPC response is then the last event.
func lastSSEData(body []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if d, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:")); ok {
			last = bytes.Clone(bytes.TrimSpace(d))
		}
	}
	return last
}

func (r *rawClient) close() { r.tr.CloseIdleConnections() }

// errorsJoin keeps at most a few errors: a thousand identical ones say no more.
func errorsJoin(errs []error) error {
	if len(errs) > 3 {
		errs = append(errs[:3:3], fmt.Errorf("and %d more", len(errs)-3))
	}
	return errors.Join(errs...)
}
