// Package interop drives imagegen with the official MCP TypeScript clients
// (pinned in package.json and package-lock.json next to this file) through
// node: the 2026-07-28 Tasks extension with @modelcontextprotocol/client and
// @modelcontextprotocol/ext-tasks, the 2025-11-25 tasks with
// @modelcontextprotocol/sdk. The service under test is the real binary
// (`imagegen dev`: embedded Temporal, worker, MCP server), so that a kill -9
// really kills it; only Workers AI is a fake.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/workersai/workersaitest"
)

const token = "interop-secret-token-7d2c41"

// nodeTool finds node and makes sure the pinned packages are installed
// (`npm ci`, as .ci/run does). Without node the test skips, saying so.
func nodeTool(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH: the interop tests drive the official TypeScript MCP clients through node (install Node.js >= 20, then run `npm ci` in interop/)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@modelcontextprotocol", "ext-tasks")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("node is installed but interop/node_modules is missing and npm is not on PATH: run `npm ci` in interop/")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund").CombinedOutput(); err != nil {
			t.Fatalf("npm ci in interop/: %v\n%s", err, out)
		}
	}
	return node
}

// buildImagegen builds cmd/imagegen into a temporary directory.
func buildImagegen(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found to build imagegen: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "imagegen")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/imagegen")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/imagegen: %v\n%s", err, out)
	}
	return bin
}

// service is one `imagegen dev` process.
type service struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startService(t *testing.T, bin string, args []string, env []string) *service {
	t.Helper()
	s := &service{out: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			out := s.out.String()
			t.Logf("service output (last 6000 bytes):\n%s", out[max(0, len(out)-6000):])
		}
	})
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(s.out.String(), "imagegen ready") {
		select {
		case <-s.done:
			t.Fatalf("imagegen dev exited before it was ready:\n%s", s.out.String())
		case <-deadline:
			t.Fatalf("imagegen dev not ready after 3 minutes:\n%s", s.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}

// kill is kill -9: no graceful shutdown, no deferred cleanup.
func (s *service) kill() {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
	}
}

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

func serviceEnv(fake *workersaitest.Server) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "IMAGEGEN_") || strings.HasPrefix(name, "CLOUDFLARE_") || strings.HasPrefix(name, "R2_") ||
			strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "OPENAI_") || strings.HasPrefix(name, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"CLOUDFLARE_ACCOUNT_ID="+fake.AccountID, "CLOUDFLARE_API_TOKEN="+fake.APIToken, "CLOUDFLARE_API_BASE_URL="+fake.URL,
		"IMAGEGEN_AUTH_TOKEN="+token, "IMAGEGEN_LOG_LEVEL=info")
}

// scenario runs one scenario of tasks.mjs and decodes what it observed.
func scenario(t *testing.T, node, url, refFile, name string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "tasks.mjs", name)
	cmd.Env = append(os.Environ(), "IMAGEGEN_URL="+url, "IMAGEGEN_TOKEN="+token, "REF_FILE="+refFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var facts map[string]any
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &facts); jerr != nil || err != nil {
		t.Fatalf("node tasks.mjs %s: %v\nstdout: %s\nstderr: %s", name, err, stdout.String(), stderr.String())
	}
	t.Logf("%s: %s", name, summarize(facts))
	return facts
}

func summarize(facts map[string]any) string {
	short := map[string]any{}
	for k, v := range facts {
		if s, ok := v.(string); ok && len(s) > 80 {
			v = s[:80] + "…"
		}
		short[k] = v
	}
	b, _ := json.Marshal(short)
	return string(b)
}

func expect(t *testing.T, facts map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := facts[k]; fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v (all: %s)", k, got, v, summarize(facts))
		}
	}
}

func TestOfficialTypeScriptClientsDriveTasks(t *testing.T) {
	node := nodeTool(t)
	bin := buildImagegen(t)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)

	// Fixed ports, remembered across the restart, on one data dir: the
	// restarted service is the same service.
	ports := freePorts(t, 2)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	args := []string{"dev", "--addr", addr, "--temporal-port", strconv.Itoa(ports[1]), "--ui-port", "-1", "--data-dir", t.TempDir()}
	env := serviceEnv(fake)
	svc := startService(t, bin, args, env)
	url := "http://" + addr + "/mcp"
	refs := t.TempDir()
	run := func(t *testing.T, name string) map[string]any {
		return scenario(t, node, url, filepath.Join(refs, strings.SplitN(name, "-", 2)[0]+".json"), name)
	}

	fake.SetDelay(time.Second) // long enough to be seen working
	t.Run("2026-07-28 create and poll with ext-tasks", func(t *testing.T) {
		f := run(t, "v2-poll")
		expect(t, f, map[string]any{"era": "modern", "kind": "task", "outcome": "completed", "isError": false, "resultType": "complete"})
		if !strings.Contains(fmt.Sprint(f["text"]), `"status": "completed"`) {
			t.Errorf("result is not the finished job: %v", f["text"])
		}
	})
	t.Run("2026-07-28 subscribe: the finished task is pushed", func(t *testing.T) {
		f := run(t, "v2-subscribe")
		expect(t, f, map[string]any{"kind": "task", "pushedStatus": "completed", "pushedResultEqualsOutcome": true, "subscriptionEnded": "graceful", "outcome": "completed"})
	})
	t.Run("2025-11-25 create, poll and result with SDK v1", func(t *testing.T) {
		f := run(t, "v1-poll")
		expect(t, f, map[string]any{"protocol": "2025-11-25", "isError": false, "listed": true})
		if fmt.Sprint(f["taskTools"]) != "[generate_image_and_wait wait_for_completion]" {
			t.Errorf("tools with execution.taskSupport: %v", f["taskTools"])
		}
		kinds := fmt.Sprint(f["kinds"])
		if !strings.HasPrefix(kinds, "[taskCreated") || !strings.HasSuffix(kinds, "taskStatus:completed result]") {
			t.Errorf("callToolStream messages %s", kinds)
		}
		if f["relatedTask"] != f["taskId"] {
			t.Errorf("tasks/result _meta related-task %v, want %v", f["relatedTask"], f["taskId"])
		}
	})

	fake.SetDelay(5 * time.Minute) // jobs stay in flight until canceled or killed
	t.Run("2026-07-28 cancel", func(t *testing.T) {
		expect(t, run(t, "v2-cancel"), map[string]any{"kind": "task", "statusAfterCancel": "cancelled"})
	})
	t.Run("2025-11-25 cancel", func(t *testing.T) {
		expect(t, run(t, "v1-cancel"), map[string]any{"cancelStatus": "cancelled", "statusAfterCancel": "cancelled"})
	})

	t.Run("kill -9 between create and result", func(t *testing.T) {
		before := fake.Calls()
		v2 := run(t, "v2-create")
		v1 := run(t, "v1-create")
		expect(t, v2, map[string]any{"kind": "task"})
		if v1["taskId"] == nil || v2["taskId"] == nil {
			t.Fatalf("no task ids: %v %v", v1, v2)
		}
		// Both provider calls are in flight when the service dies.
		for deadline := time.Now().Add(time.Minute); fake.Calls() < before+2; {
			if time.Now().After(deadline) {
				t.Fatalf("provider calls did not start: %d", fake.Calls()-before)
			}
			time.Sleep(50 * time.Millisecond)
		}
		svc.kill()
		killed := time.Now()
		fake.SetDelay(0)
		startService(t, bin, args, env)
		r2 := run(t, "v2-resume")
		r1 := run(t, "v1-resume")
		t.Logf("measured: both tasks resolved %.1fs after the kill -9 (restart, the 20 s heartbeat timeout, the retried provider call)", time.Since(killed).Seconds())
		expect(t, r2, map[string]any{"taskId": v2["taskId"], "firstStatus": "working", "outcome": "completed", "isError": false})
		expect(t, r1, map[string]any{"taskId": v1["taskId"], "finalStatus": "completed", "isError": false})
		for _, r := range []map[string]any{r1, r2} {
			if !strings.Contains(fmt.Sprint(r["text"]), `"status": "completed"`) {
				t.Errorf("result after restart is not the finished job: %v", r["text"])
			}
		}
	})
}
