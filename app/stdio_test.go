package app_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
	"github.com/imagegen/imagegen/internal/logging"
)

// TestStdioServesTheToolsAgainstARunningService is the desktop-client path:
// `imagegen stdio` talking to the Temporal of a running service.
func TestStdioServesTheToolsAgainstARunningService(t *testing.T) {
	s := sharedDev(t)
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts, err := config.Config{TemporalAddress: s.app.TemporalAddress, TemporalAPIKey: s.app.TemporalAPIKey()}.Resolve(logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- app.Stdio(ctx, opts, serverIn, serverOut)
	}()
	t.Cleanup(func() {
		cancel()
		clientOut.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("stdio server did not stop")
		}
	})

	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(eofReader{})))
	initClient(t, c)
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "over stdio", "model": "sdxl-lightning"})
	if res.IsError || out["done"] != true {
		t.Fatalf("over stdio: %v", out)
	}
	res, out = callTool(t, c, "get_job_status", map[string]any{"job_id": out["job"].(map[string]any)["job_id"]})
	if res.IsError || out["status"] != "completed" {
		t.Fatalf("get_job_status over stdio: %v", out)
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
