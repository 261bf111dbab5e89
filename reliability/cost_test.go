package reliability

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// TestPaidRetriesAreCountedThroughTheStack runs a job on the real service
// (MCP → embedded Temporal → worker → fake Workers AI) whose first call is
// answered with a truncated image (the model ran: paid), the second with a
// capacity refusal (not paid), the third with the image. Temporal retries the
// Generate activity, so the first two attempts never reach the workflow: the
// count must travel from attempt to attempt in Temporal's heartbeat details.
func TestPaidRetriesAreCountedThroughTheStack(t *testing.T) {
	t.Parallel()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	jpeg := fake.Image("flux-schnell")
	truncated, _ := json.Marshal(map[string]any{
		"result": map[string]string{"image": base64.StdEncoding.EncodeToString(jpeg[:len(jpeg)/2])}, "success": true, "errors": []any{},
	})
	const prompt = "cost: a paid retry and a refusal"
	answers := []workersaitest.Failure{
		{Status: 200, ContentType: "application/json", Body: truncated},
		{Status: 429, Code: 3040, Message: "Capacity temporarily exceeded, please try again."},
	}
	fake.SetPromptFailFunc(func(model, p string, call int) *workersaitest.Failure {
		if p != prompt || call > len(answers) {
			return nil
		}
		return &answers[call-1]
	})
	a := startApp(t, testkit.Dev, devConfig(t.TempDir(), fake))
	c := newClient(t, a.MCPURL)

	res, started := mustCall(t, c, "generate_image", map[string]any{"prompt": prompt, "model": "flux-schnell"})
	id, _ := started["job_id"].(string)
	if res.IsError || id == "" {
		t.Fatalf("generate_image: %+v", started)
	}
	if cost, _ := started["cost"].(map[string]any); cost == nil || cost["estimate"] != "$0.0006336" {
		t.Errorf("generate_image cost = %v, want the estimate $0.0006336", started["cost"])
	}
	_, running := mustCall(t, c, "get_job_status", map[string]any{"job_id": id})
	if cost, _ := running["cost"].(map[string]any); cost == nil || cost["estimate"] != "$0.0006336" {
		t.Errorf("cost at start = %v, want the estimate $0.0006336", running["cost"])
	}
	job := waitCompleted(t, c, id, 60*time.Second)
	if calls := fake.CallsForPrompt(prompt); calls != 3 {
		t.Fatalf("provider calls = %d, want 3", calls)
	}
	cost, _ := job["cost"].(map[string]any)
	if cost == nil || cost["actual"] != "$0.0012672" || cost["paid_calls"] != float64(2) || cost["paid_calls_without_image"] != float64(1) {
		t.Errorf("cost = %v, want $0.0012672 for 2 paid calls, 1 without an image", cost)
	}

	resp, err := http.Get(strings.TrimSuffix(a.MCPURL, "/mcp") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`imagegen_provider_paid_calls_total{model="flux-schnell",outcome="image"} 1`,
		`imagegen_provider_paid_calls_total{model="flux-schnell",outcome="no_image"} 1`,
		`imagegen_spend_usd_total{model="flux-schnell",outcome="no_image"} 0.0006336`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
