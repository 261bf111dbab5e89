package devserver

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type uiAnswer struct {
	status int
	body   string
}

func uiRequest(t *testing.T, method, rawURL, host string, header map[string]string, body string) uiAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return uiAnswer{resp.StatusCode, string(b)}
}

// TestWebUIRefusesReboundHostsAndForeignOrigins replays the DNS-rebinding
// attack: a page of evil.example, rebound to 127.0.0.1, lists jobs,
// terminates one and starts another through the UI's API.
func TestWebUIRefusesReboundHostsAndForeignOrigins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{UIAllowedHosts: []string{"devbox.example"}})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	c := dialTest(t, s)
	defer c.Close()
	if _, err := c.ExecuteWorkflow(ctx, startOpts("victim"), "nobody-runs-this"); err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	ui := s.UIAddress()
	u, _ := url.Parse(ui)
	port := u.Port()
	ns := s.Namespace()
	list := ui + "/api/v1/namespaces/" + ns + "/workflows"
	terminate := ui + "/api/v1/namespaces/" + ns + "/workflows/victim/terminate"
	start := ui + "/api/v1/namespaces/" + ns + "/workflows/forged"
	startBody := `{"workflowType":{"name":"x"},"taskQueue":{"name":"q"}}`
	// Visibility is eventually consistent: wait until the job is listed.
	for a := uiRequest(t, "GET", list, "", nil, ""); !strings.Contains(a.body, "victim"); a = uiRequest(t, "GET", list, "", nil, "") {
		if ctx.Err() != nil {
			t.Fatalf("the job never showed in the UI's list: %d %.200q", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	textPlain := map[string]string{"Content-Type": "text/plain"}
	evilOrigin := map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example:" + port}

	for _, tc := range []struct {
		name, method, url, host string
		header                  map[string]string
		body                    string
		want                    int
		says                    string
	}{
		{"rebound host reads the page", "GET", ui + "/", "evil.example:" + port, nil, "", 403, "invalid Host header"},
		{"rebound host lists jobs", "GET", list, "evil.example:" + port, nil, "", 403, "invalid Host header"},
		{"rebound host terminates", "POST", terminate, "evil.example:" + port, evilOrigin, "{}", 403, "invalid Host header"},
		{"rebound host starts", "POST", start, "evil.example", evilOrigin, startBody, 403, "invalid Host header"},
		{"foreign origin terminates", "POST", terminate, "", evilOrigin, "{}", 403, "cross-origin"},
		{"foreign origin lists", "GET", list, "", map[string]string{"Origin": "https://evil.example"}, "", 403, "cross-origin"},
		{"null origin starts", "POST", start, "", map[string]string{"Origin": "null"}, startBody, 403, "cross-origin"},
		{"cross-site fetch without origin", "POST", terminate, "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "{}", 403, "cross-origin"},
		{"loopback host lists", "GET", list, "localhost:" + port, nil, "", 200, "victim"},
		{"configured host lists", "GET", list, "devbox.example:" + port, nil, "", 200, "victim"},
		{"own origin lists", "GET", list, "", map[string]string{"Origin": ui}, "", 200, "victim"},
		// Same origin, no CSRF token: the UI's own CSRF check still applies.
		{"same-origin post without csrf token", "POST", terminate, "", map[string]string{"Origin": ui, "Content-Type": "application/json"}, "{}", 400, ""},
		{"plain text post without csrf token", "POST", terminate, "", textPlain, "{}", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := uiRequest(t, tc.method, tc.url, tc.host, tc.header, tc.body)
			if a.status != tc.want || !strings.Contains(a.body, tc.says) {
				t.Errorf("%s %s (Host %q): %d %.200q, want %d containing %q", tc.method, tc.url, tc.host, a.status, a.body, tc.want, tc.says)
			}
		})
	}

	desc, err := c.DescribeWorkflowExecution(ctx, "victim", "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus().String(); !strings.Contains(strings.ToLower(st), "running") {
		t.Errorf("victim workflow is %s after the attacks, want running", st)
	}
	if _, err := c.DescribeWorkflowExecution(ctx, "forged", ""); err == nil {
		t.Error("the forged workflow exists")
	}

	// The ui-server's own port, found by a local scan or a rebound page,
	// gets no credentials: the frontend refuses what it forwards.
	direct := uiRequest(t, "GET", "http://"+s.uiBackend+"/api/v1/namespaces/"+ns+"/workflows", "", nil, "")
	if direct.status == 200 || strings.Contains(direct.body, "victim") {
		t.Errorf("ui-server's own port listed jobs: %d %.200q", direct.status, direct.body)
	}
}
