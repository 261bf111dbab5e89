package app_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/openai/openaitest"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

func TestOpenAIModelJobRunsThroughTheWholeStack(t *testing.T) {
	wai := workersaitest.NewServer()
	t.Cleanup(wai.Close)
	oai := openaitest.NewServer()
	t.Cleanup(oai.Close)
	cfg := devConfig(t.TempDir(), wai)
	cfg.OpenAIAPIKey, cfg.OpenAIBaseURL = oai.APIKey, oai.URL
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(&syncBuffer{}, "json", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	c := newStreamableClient(t, a.MCPURL, testToken)
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": "an openai lighthouse", "model": "openai-image"})
	if res.IsError {
		t.Fatalf("%v", out)
	}
	_, _, data := get(t, out["job"].(map[string]any)["image_url"].(string))
	if !bytes.Equal(data, oai.Image()) {
		t.Errorf("stored image (%d bytes) is not the OpenAI fake's PNG", len(data))
	}
	if oai.Calls() != 1 || wai.Calls() != 0 {
		t.Errorf("calls: openai %d, workers ai %d; want 1 and 0", oai.Calls(), wai.Calls())
	}
}
