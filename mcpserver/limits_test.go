package mcpserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/mcpserver"
)

// blockingJobs is a job layer whose waits last until their context ends:
// each wait_for_completion call stays in flight until the test (or the
// server) lets go.
type blockingJobs struct {
	fakeJobs
	entered, exited chan struct{}
}

func newBlockingJobs() *blockingJobs {
	return &blockingJobs{entered: make(chan struct{}, 64), exited: make(chan struct{}, 64)}
}

func (b *blockingJobs) Watch(ctx context.Context, id string, timeout time.Duration, _ func(jobs.Progress)) (jobs.Job, bool, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	b.exited <- struct{}{}
	return jobs.Job{}, false, ctx.Err()
}

func (b *blockingJobs) Wait(ctx context.Context, id string, timeout time.Duration) (jobs.Job, bool, error) {
	return b.Watch(ctx, id, timeout, nil)
}

// openSSE opens a raw /sse stream from the given local address ("" for
// any) and returns its response, or the refusal's status and body.
func openSSE(t *testing.T, base, local string) (*http.Response, string) {
	t.Helper()
	d := &net.Dialer{}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	resp, err := c.Get(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, ""
}

// messageURL reads the stream's endpoint event: where to POST messages.
func messageURL(t *testing.T, base string, resp *http.Response) string {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if strings.HasPrefix(data, "http") {
				return data
			}
			return base + data
		}
	}
	t.Fatalf("no endpoint event: %v", sc.Err())
	return ""
}

const waitArgs = `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"wait_for_completion","arguments":{"job_id":"3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"}}}`

func post(t *testing.T, url string, id int, extra map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(fmt.Sprintf(waitArgs, id))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// refusal checks a 429 whose JSON(-RPC) body names the limit hit.
func refusal(t *testing.T, status int, body, want string) {
	t.Helper()
	if status != http.StatusTooManyRequests {
		t.Fatalf("status %d (%s), want 429", status, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	msg, _ := m["error"].(string)
	if e, ok := m["error"].(map[string]any); ok {
		msg, _ = e["message"].(string)
	}
	if !strings.Contains(msg, want) {
		t.Fatalf("error %q, want it to say %q", msg, want)
	}
}

func TestSSESessionsAreCappedPerClientAndInTotal(t *testing.T) {
	srv := httpServer(t, &fakeJobs{}, mcpserver.HTTPOptions{Limits: mcpserver.Limits{SSESessionsPerClient: 2, SSESessions: 3}})
	first, _ := openSSE(t, srv.URL, "127.0.0.1")
	openSSE(t, srv.URL, "127.0.0.1")
	resp, body := openSSE(t, srv.URL, "127.0.0.1")
	refusal(t, resp.StatusCode, body, "at most 2 open at once")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another client address still gets in, up to the total.
	openSSE(t, srv.URL, "127.0.0.2")
	resp, body = openSSE(t, srv.URL, "127.0.0.2")
	refusal(t, resp.StatusCode, body, "the server keeps at most 3 open")

	// A closed stream frees its place.
	first.Body.Close()
	for i := 0; ; i++ {
		resp, _ := openSSE(t, srv.URL, "127.0.0.2")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if i == 500 {
			t.Fatal("a closed SSE stream never freed its place")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMessageCallsAreCappedPerSessionAndCancelledWithTheirStream(t *testing.T) {
	j := newBlockingJobs()
	srv := httpServer(t, j, mcpserver.HTTPOptions{Limits: mcpserver.Limits{CallsPerSession: 2}})
	stream, _ := openSSE(t, srv.URL, "")
	msg := messageURL(t, srv.URL, stream)
	for i := range 2 {
		if status, body := post(t, msg, i+1, nil); status != http.StatusAccepted {
			t.Fatalf("call %d: %d %s", i+1, status, body)
		}
	}
	<-j.entered
	<-j.entered
	status, body := post(t, msg, 3, nil)
	refusal(t, status, body, "at most 2 at once")

	// Another session has its own allowance.
	other, _ := openSSE(t, srv.URL, "")
	if status, body := post(t, messageURL(t, srv.URL, other), 4, nil); status != http.StatusAccepted {
		t.Fatalf("another session's call: %d %s", status, body)
	}
	<-j.entered

	// Closing the first stream ends its two waiters instead of leaving them
	// running detached.
	stream.Body.Close()
	<-j.exited
	<-j.exited
	select {
	case <-j.exited:
		t.Fatal("closing one stream ended the other session's waiter too")
	default:
	}
}

func TestCallsAreCappedInTotalAcrossMessageAndMCP(t *testing.T) {
	j := newBlockingJobs()
	srv := httpServer(t, j, mcpserver.HTTPOptions{Limits: mcpserver.Limits{Calls: 2}})
	stream, _ := openSSE(t, srv.URL, "")
	msg := messageURL(t, srv.URL, stream)
	if status, body := post(t, msg, 1, nil); status != http.StatusAccepted {
		t.Fatalf("/message call: %d %s", status, body)
	}
	<-j.entered
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/mcp", bytes.NewReader([]byte(fmt.Sprintf(waitArgs, 2))))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-j.entered
	status, body := post(t, srv.URL+"/mcp", 3, nil)
	refusal(t, status, body, "at most 2 MCP calls in flight")
	status, body = post(t, msg, 4, nil)
	refusal(t, status, body, "at most 2 MCP calls in flight")

	// When the /mcp call ends, its place is free again.
	cancel()
	<-j.exited
	for i := 0; ; i++ {
		status, body := post(t, msg, 5, nil)
		if status == http.StatusAccepted {
			break
		}
		if i == 500 {
			t.Fatalf("an ended call never freed its place: %d %s", status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFinishedMessageCallsGiveTheirPlaceBack(t *testing.T) {
	srv := httpServer(t, &fakeJobs{}, mcpserver.HTTPOptions{Limits: mcpserver.Limits{Calls: 1}})
	stream, _ := openSSE(t, srv.URL, "")
	msg := messageURL(t, srv.URL, stream)
	// With one place in total, every later call gets in only if each earlier
	// one (a request, a notification, a bad message) gave its place back.
	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"no/such/method"}`,
		`{"jsonrpc":"1.0","id":3,"method":"tools/list"}`,
		`not json`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`,
	}
	for _, b := range bodies {
		for i := 0; ; i++ {
			resp, err := http.Post(msg, "application/json", strings.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests {
				break
			}
			if i == 500 {
				t.Fatalf("%s: still refused, the place of an earlier call was never given back: %s", b, body)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
