//go:build unix

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"
)

// A desktop client configured with only `imagegen stdio` and nothing
// running: the first client starts the stack in the background, a second
// one joins it, and closing one leaves the other working. Driven through the
// official Go SDK's stdio (command) transport against the real binary: the
// point is the process boundary, which a function call cannot show.
func TestStdioStartsOrJoinsOneSharedStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the imagegen binary and starts a background stack; skipped in -short")
	}
	home := t.TempDir()
	bin := filepath.Join(t.TempDir(), "imagegen")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := filepath.Join(home, "data", "imagegen")
	t.Cleanup(func() { stopStack(t, dataDir) })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	connect := func() *sdkmcp.ClientSession {
		cmd := exec.Command(bin, "stdio")
		// Nothing configured but where the user's data directory is.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data")}
		c := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "desktop", Version: "1"}, nil)
		s, err := c.Connect(ctx, &sdkmcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		return s
	}
	generate := func(s *sdkmcp.ClientSession, prompt string) string {
		res, err := s.CallTool(ctx, &sdkmcp.CallToolParams{Name: "generate_image_and_wait", Arguments: map[string]any{"prompt": prompt}})
		if err != nil {
			t.Fatalf("generate_image_and_wait: %v", err)
		}
		var out struct {
			Job struct {
				ID     string `json:"job_id"`
				Status string `json:"status"`
			} `json:"job"`
		}
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &out); err != nil || res.IsError || out.Job.Status != "completed" {
			t.Fatalf("generate_image_and_wait: %s (isError %v)", b, res.IsError)
		}
		return out.Job.ID
	}

	// Two clients at once, with nothing running.
	sessions := make([]*sdkmcp.ClientSession, 2)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); sessions[i] = connect() }()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	first := generate(sessions[0], "a kite over the dunes")
	second := generate(sessions[1], "a kite over the sea")
	pid := stackPID(t, dataDir)

	// Closing one client leaves the stack, and the other client, working.
	if err := sessions[0].Close(); err != nil {
		t.Fatalf("close the first client: %v", err)
	}
	third := generate(sessions[1], "a kite at night")
	res, err := sessions[1].CallTool(ctx, &sdkmcp.CallToolParams{Name: "list_jobs", Arguments: map[string]any{"limit": 10}})
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := json.Marshal(res.StructuredContent)
	for _, id := range []string{first, second, third} {
		if !strings.Contains(string(listed), id) {
			t.Errorf("job %s missing from the shared stack's list: %s", id, listed)
		}
	}
	// A client started later joins the same stack instead of starting one.
	later := connect()
	generate(later, "a kite at dawn")
	later.Close()
	sessions[1].Close()
	if got := stackPID(t, dataDir); got != pid {
		t.Errorf("stack pid changed from %d to %d: a second stack was started", pid, got)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the stack (pid %d) is gone after its clients closed: %v", pid, err)
	}
}

func stackPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, stackFile))
	if err != nil {
		t.Fatalf("stack file: %v", err)
	}
	var info stackInfo
	if err := json.Unmarshal(b, &info); err != nil || info.PID == 0 {
		t.Fatalf("stack file %s: %v", b, err)
	}
	return info.PID
}

// stopStack ends the background stack the test started, and waits for it.
func stopStack(t *testing.T, dataDir string) {
	b, err := os.ReadFile(filepath.Join(dataDir, stackFile))
	if err != nil {
		return
	}
	var info stackInfo
	if json.Unmarshal(b, &info) != nil || info.PID == 0 {
		return
	}
	_ = syscall.Kill(info.PID, syscall.SIGTERM)
	for range 300 {
		if syscall.Kill(info.PID, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(info.PID, syscall.SIGKILL)
	t.Logf("stack pid %d did not stop on SIGTERM within 30 s; killed", info.PID)
}
