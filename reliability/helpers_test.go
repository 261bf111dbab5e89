package reliability

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for checkStoredImage
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/devserver"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

const testToken = "reliability-secret-token-5f1d0c"

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// imagegenBinary builds cmd/imagegen once per test run: the crash tests need
// a process they can SIGKILL, which a function call cannot give them.
func imagegenBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "imagegen-reliability-")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go tool not found to build imagegen: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		binPath = filepath.Join(buildDir, "imagegen")
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", binPath, "./cmd/imagegen")
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/imagegen: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a child imagegen process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startProc runs the binary with args and an environment cleared of the
// service's variables, so that the developer's shell cannot leak in. The
// process is killed at cleanup at the latest.
func startProc(t *testing.T, name, bin string, args []string, env map[string]string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = hermeticEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, tail(p.out.String(), 6000))
		}
	})
	return p
}

// kill sends SIGKILL (no graceful shutdown, no deferred cleanup) and waits
// for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitReady waits for the "imagegen ready" log line that every mode prints
// once it serves, failing early if the process dies.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(p.out.String(), "imagegen ready") {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", p.name, tail(p.out.String(), 6000))
		case <-deadline:
			t.Fatalf("%s not ready after 2 minutes:\n%s", p.name, tail(p.out.String(), 6000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func hermeticEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "IMAGEGEN_"), strings.HasPrefix(name, "CLOUDFLARE_"),
			strings.HasPrefix(name, "R2_"), strings.HasPrefix(name, "TEMPORAL_"), strings.HasPrefix(name, "AWS_"):
			continue
		}
		env = append(env, kv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// workersAIEnv points a child at the fake provider.
func workersAIEnv(fake *workersaitest.Server) map[string]string {
	return map[string]string{
		"CLOUDFLARE_ACCOUNT_ID":   fake.AccountID,
		"CLOUDFLARE_API_TOKEN":    fake.APIToken,
		"CLOUDFLARE_API_BASE_URL": fake.URL,
		"IMAGEGEN_AUTH_TOKEN":     testToken,
		"IMAGEGEN_LOG_LEVEL":      "info",
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All probes are held until every port is picked, so none repeats.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// devConfig is an in-process dev stack on dir with the fake provider.
func devConfig(dir string, fake *workersaitest.Server) config.Config {
	return config.Config{
		Addr: "127.0.0.1:0", DataDir: dir, AuthToken: testToken, UIPort: -1,
		CloudflareAccountID: fake.AccountID, CloudflareAPIToken: fake.APIToken, CloudflareBaseURL: fake.URL,
		MaxWait: 30 * time.Second,
	}
}

func startApp(t *testing.T, start func(context.Context, config.Config, *slog.Logger) (*app.App, error), cfg config.Config) *app.App {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := start(ctx, cfg, logging.New(logs, "text", "info"))
	if err != nil {
		t.Fatalf("start service: %v\n%s", err, tail(logs.String(), 6000))
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("service logs:\n%s", tail(logs.String(), 6000))
		}
	})
	return a
}

// startTemporal runs an embedded Temporal server with the service's search
// attributes, as an external cluster would have them.
func startTemporal(t *testing.T, opts devserver.Options) *devserver.Server {
	t.Helper()
	opts.UIPort = -1
	opts.SearchAttributes = workflows.SearchAttributes()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devserver.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start Temporal: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := testkit.StreamableClient(ctx, url, testToken, "reliability")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call invokes a tool and decodes the JSON text of its result. A non-nil
// error is a protocol or transport failure, not a tool error.
func call(ctx context.Context, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any, error) {
	return testkit.CallTool(ctx, c, name, args)
}

func mustCall(t *testing.T, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, out, err := call(ctx, c, name, args)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res, out
}

// startJob calls generate_image and returns the job id.
func startJob(t *testing.T, c *client.Client, prompt, model string) string {
	t.Helper()
	res, out := mustCall(t, c, "generate_image", map[string]any{"prompt": prompt, "model": model})
	id, _ := out["job_id"].(string)
	if res.IsError || id == "" {
		t.Fatalf("generate_image(%q): %+v", prompt, out)
	}
	return id
}

// waitJob calls wait_for_completion until the job is done, for at most
// within, and returns the last answer: the tool result and its JSON.
func waitJob(t *testing.T, c *client.Client, id string, within time.Duration) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left < time.Second {
			t.Fatalf("job %s not done within %s", id, within)
		}
		res, out := mustCall(t, c, "wait_for_completion", map[string]any{"job_id": id, "timeout_seconds": int(min(left, 20*time.Second) / time.Second)})
		if out["done"] == true {
			return res, out
		}
		if res.IsError {
			t.Fatalf("wait_for_completion(%s): %+v", id, out)
		}
	}
}

// waitCompleted waits for a job that must complete and returns its view.
func waitCompleted(t *testing.T, c *client.Client, id string, within time.Duration) map[string]any {
	t.Helper()
	res, out := waitJob(t, c, id, within)
	job, _ := out["job"].(map[string]any)
	if res.IsError || job["status"] != "completed" {
		t.Fatalf("job %s did not complete: %+v", id, out)
	}
	return job
}

// checkStoredImage fetches a job's image_url and checks that it is whole:
// served with the right type, decodable, and the very bytes the provider sent.
func checkStoredImage(t *testing.T, url, wantType string, want []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET image: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read image: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wantType {
		t.Fatalf("GET %s: %d %q (%d bytes), want 200 %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), wantType)
	}
	if _, _, err := image.Decode(bytes.NewReader(body)); err != nil {
		t.Errorf("stored image does not decode: %v", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("stored image is %d bytes that differ from the provider's %d bytes", len(body), len(want))
	}
}

// waitFor polls cond until it holds, for at most within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// syncBuffer collects a stack's logs (the test kit's buffer).
type syncBuffer = testkit.LogBuffer
