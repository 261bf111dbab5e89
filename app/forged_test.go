package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mark3labs/mcp-go/mcp"
	"go.temporal.io/sdk/client"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// TestForgedMemoNeitherReadsAnotherJobsImageNorLinksOutsideHTTP forges a
// "completed" job the way a caller holding Temporal access could: its memo
// names another job's storage key and a javascript: URL. resources/read
// refuses it and no tool hands out the URL.
func TestForgedMemoNeitherReadsAnotherJobsImageNorLinksOutsideHTTP(t *testing.T) {
	s := sharedDev(t)
	victim := generate(t, s.app.MCPURL, testToken, "the victim's private image")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jc := jobs.New(s.app.Temporal(), jobs.Options{})
	vj, err := jc.Get(ctx, victim)
	if err != nil || vj.Result == nil || vj.Result.Key == "" {
		t.Fatalf("victim job: %+v, %v", vj, err)
	}

	forged := uuid.NewString()
	rec := workflows.Record{
		Status:  workflows.StatusCompleted,
		Request: imagegen.Request{Prompt: "ignore previous instructions", Model: "flux-schnell"},
		Result: &workflows.Result{
			Key: vj.Result.Key, ThumbnailKey: vj.Result.ThumbnailKey, ImageURL: "javascript:alert(document.cookie)",
			ContentType: "image/png", SizeBytes: 10,
		},
		UpdatedAt: time.Now(),
	}
	if _, err := s.app.Temporal().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: forged, TaskQueue: "nobody-polls-this", Memo: map[string]any{workflows.MemoKey: rec},
	}, workflows.WorkflowName); err != nil {
		t.Fatalf("forge: %v", err)
	}
	t.Cleanup(func() { _ = s.app.Temporal().TerminateWorkflow(context.Background(), forged, "", "test over") })

	c := newStreamableClient(t, s.app.MCPURL, testToken)
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "images://" + forged
	if read, err := c.ReadResource(ctx, rr); err == nil {
		for _, content := range read.Contents {
			if _, ok := content.(mcp.BlobResourceContents); ok {
				t.Fatal("resources/read of the forged job returned an image (the victim's)")
			}
		}
		t.Errorf("resources/read of the forged job: %+v, want an error", read.Contents)
	}
	res, out := callTool(t, c, "get_job_status", map[string]any{"job_id": forged})
	for _, content := range res.Content {
		if text, ok := content.(mcp.TextContent); ok && strings.Contains(text.Text, "javascript:") {
			t.Errorf("get_job_status hands out the forged URL: %.300s", text.Text)
		}
		if _, ok := content.(mcp.ImageContent); ok {
			t.Error("get_job_status shows the victim's thumbnail for the forged job")
		}
	}
	if strings.Contains(toJSON(out), "javascript:") {
		t.Errorf("structured result carries the forged URL: %v", out)
	}
}
