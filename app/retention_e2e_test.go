package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// A job whose workflow Temporal no longer has (retention simulated by
// deleting the execution) keeps its place in list_generations, with its
// metadata, through a real MCP client; paging across it returns each image
// exactly once; get_job_status says plainly that the job is past retention
// and still describes its image.
func TestImagesOutliveTheirWorkflows(t *testing.T) {
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	s, err := startDev(t.TempDir(), fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.app.Close() })
	c := newStreamableClient(t, s.app.MCPURL, testToken)

	prompts := []string{"oldest lantern", "middle lantern", "newest lantern"}
	var ids []string
	for _, p := range prompts {
		_, out := callTool(t, c, "generate_image_and_wait", map[string]any{"prompt": p, "model": "sdxl-base"})
		job, _ := out["job"].(map[string]any)
		if job["status"] != "completed" {
			t.Fatalf("generate %q: %v", p, out)
		}
		ids = append(ids, job["job_id"].(string))
	}
	gone := ids[1]

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc := s.app.Temporal().WorkflowService()
	ns := s.cfg.TemporalNamespace
	if ns == "" {
		ns = "default"
	}
	exec := &commonpb.WorkflowExecution{WorkflowId: gone}
	if _, err := svc.DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: ns, WorkflowExecution: exec}); err != nil {
		t.Fatalf("delete workflow: %v", err)
	}
	// Deletion is asynchronous (a task in the server): poll until gone.
	for {
		_, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: ns, Execution: exec})
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the deleted workflow is still described after a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Walk the gallery one image per page: newest first, each job once.
	var walked []map[string]any
	for offset := 0; ; offset++ {
		_, out := callTool(t, c, "list_generations", map[string]any{"limit": 1, "offset": offset})
		gens, _ := out["generations"].([]any)
		if len(gens) == 0 {
			break
		}
		if len(gens) != 1 || offset > 10 {
			t.Fatalf("page %d: %v", offset, out)
		}
		walked = append(walked, gens[0].(map[string]any))
	}
	if len(walked) != 3 {
		t.Fatalf("gallery walk = %v, want the three jobs", walked)
	}
	for i, g := range walked {
		want := len(ids) - 1 - i
		if g["job_id"] != ids[want] || g["prompt"] != prompts[want] || g["model"] != "sdxl-base" ||
			!strings.Contains(g["image_url"].(string), "/images/") || g["content_type"] != "image/png" || g["created_at"] == "" {
			t.Errorf("gallery position %d = %v, want job %s (%q)", i, g, ids[want], prompts[want])
		}
	}
	// The image the record names is still served.
	if status, _, body := get(t, walked[1]["image_url"].(string)); status != 200 || len(body) == 0 {
		t.Errorf("image of the deleted job: HTTP %d, %d bytes", status, len(body))
	}

	// The gallery page's grid lists the same three, newest first, the
	// deleted job's included.
	page := galleryPage(t, s.app.Addr, testToken)
	at := func(p string) int { return strings.Index(page, ">"+p+"<") }
	if n, m, o := at(prompts[2]), at(prompts[1]), at(prompts[0]); n < 0 || m < 0 || o < 0 || !(n < m && m < o) {
		t.Errorf("gallery grid positions newest %d, deleted %d, oldest %d: want all three, newest first", n, m, o)
	}

	res, st := callTool(t, c, "get_job_status", map[string]any{"job_id": gone})
	if res.IsError || st["status"] != "completed" || st["prompt"] != prompts[1] || st["image_url"] != walked[1]["image_url"] ||
		!strings.Contains(st["note"].(string), "past the Temporal retention period") {
		t.Errorf("get_job_status of the deleted job = %v", st)
	}
	res, st = callTool(t, c, "get_job_status", map[string]any{"job_id": "00000000-0000-4000-8000-000000000000"})
	if !res.IsError || !strings.Contains(st["text"].(string), "retention period") {
		t.Errorf("get_job_status of an unknown job = %v", st)
	}
}

// galleryPage logs in to the gallery with the token and returns its page.
func galleryPage(t *testing.T, addr, token string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.PostForm("http://"+addr+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = hc.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("gallery: HTTP %d, %v", resp.StatusCode, err)
	}
	return string(body)
}
