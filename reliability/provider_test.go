package reliability

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// providerTimeout bounds one provider call in the matrix's stack, so that the
// slow-loris case costs seconds rather than the model's minute.
const providerTimeout = 3 * time.Second

// providerCase is one row of the Workers AI error matrix (facts.md): what the
// provider answers to the job's first calls, and what must come of it.
type providerCase struct {
	name  string
	model string
	// answers are the scripted answers to calls 1, 2, ...; later calls succeed.
	answers []workersaitest.Failure
	// wantCalls is the number of provider calls: 1 when the error is final,
	// one more than the failures when they are retried.
	wantCalls int
	// advice is what a failed job's error must tell the model; "" means the
	// job must complete.
	advice string
}

func envelope(status, code int, message string) workersaitest.Failure {
	return workersaitest.Failure{Status: status, Code: code, Message: message}
}

const (
	rephrase     = "Rephrase the prompt"
	otherModel   = "Use one of the listed models"
	tellOperator = "tell the operator"
	tomorrow     = "try again tomorrow"
)

func providerCases(fake *workersaitest.Server) []providerCase {
	png, jpeg := fake.Image("sdxl-lightning"), fake.Image("flux-schnell")
	halfJPEGEnvelope, _ := json.Marshal(map[string]any{
		"result": map[string]string{"image": base64.StdEncoding.EncodeToString(jpeg[:len(jpeg)/2])}, "success": true, "errors": []any{},
	})
	return []providerCase{
		// Final errors: one call, and advice the model can act on.
		{name: "5006 input failed the schema", model: "flux-schnell", wantCalls: 1, advice: rephrase,
			answers: []workersaitest.Failure{envelope(400, 5006, "AiError: Bad input: must NOT have additional properties")}},
		{name: "5007 no such model", model: "sdxl-base", wantCalls: 1, advice: otherModel,
			answers: []workersaitest.Failure{envelope(400, 5007, "No such model @cf/stabilityai/stable-diffusion-xl-base-1.0 or task")}},
		{name: "3042 model not found", model: "sdxl-lightning", wantCalls: 1, advice: otherModel,
			answers: []workersaitest.Failure{envelope(404, 3042, "Model not found")}},
		{name: "10000 bad token", model: "flux-schnell", wantCalls: 1, advice: tellOperator,
			answers: []workersaitest.Failure{envelope(401, 10000, "Authentication error")}},
		{name: "10000 forbidden account", model: "sdxl-base", wantCalls: 1, advice: tellOperator,
			answers: []workersaitest.Failure{envelope(403, 10000, "Authentication error")}},
		{name: "4006 daily free allocation", model: "flux-schnell", wantCalls: 1, advice: tomorrow,
			answers: []workersaitest.Failure{envelope(429, 4006, "you have used up your daily free allocation of 10,000 neurons, please upgrade to Cloudflare's Workers Paid plan")}},
		{name: "3036 daily free allocation", model: "sdxl-lightning", wantCalls: 1, advice: tomorrow,
			answers: []workersaitest.Failure{envelope(429, 3036, "Account limited: daily free allocation exceeded")}},
		{name: "HTTP 200 with success false", model: "sdxl-base", wantCalls: 1, advice: rephrase,
			answers: []workersaitest.Failure{envelope(200, 5006, "AiError: Bad input: '/num_steps' must be <= 20")}},

		// Transient faults: retried with backoff until the provider recovers.
		{name: "3040 out of capacity", model: "flux-schnell", wantCalls: 2,
			answers: []workersaitest.Failure{envelope(429, 3040, "Capacity temporarily exceeded, please try again.")}},
		{name: "3007 inference timed out", model: "sdxl-lightning", wantCalls: 2,
			answers: []workersaitest.Failure{envelope(408, 3007, "Inference timed out")}},
		{name: "500 internal error", model: "sdxl-base", wantCalls: 2,
			answers: []workersaitest.Failure{envelope(500, 0, "Internal server error")}},
		{name: "502 gateway page", model: "flux-schnell", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 502, ContentType: "text/html", Body: []byte("<html><body>502 Bad Gateway</body></html>")}}},
		{name: "503 twice", model: "sdxl-lightning", wantCalls: 3,
			answers: []workersaitest.Failure{envelope(503, 0, "Service unavailable"), envelope(503, 0, "Service unavailable")}},
		{name: "HTTP 200 with success false and capacity code", model: "sdxl-base", wantCalls: 2,
			answers: []workersaitest.Failure{envelope(200, 3040, "Capacity temporarily exceeded")}},
		{name: "wrong content type", model: "sdxl-lightning", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 200, ContentType: "text/plain", Body: []byte("upstream maintenance")}}},
		{name: "truncated PNG", model: "sdxl-lightning", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 200, ContentType: "image/png", Body: png[:len(png)/2]}}},
		{name: "truncated JPEG in the JSON envelope", model: "flux-schnell", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 200, ContentType: "application/json", Body: halfJPEGEnvelope}}},
		{name: "connection reset", model: "sdxl-base", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 0}}},
		{name: "slow-loris answer past the timeout", model: "sdxl-lightning", wantCalls: 2,
			answers: []workersaitest.Failure{{Status: 200, ContentType: "image/png", Body: png, Stall: time.Hour}}},
	}
}

// TestProviderErrorMatrixThroughTheStack sends each Workers AI failure of
// facts.md through the real service (MCP → Temporal → worker → fake Workers
// AI) and checks the retry decision by counting the provider calls of that
// job, and that a failed job's error tells the model what to do.
//
// All jobs run at once against one stack; each has its own prompt, by which
// the fake scripts and counts its calls. Retried cases recover after one or
// two failures: exhausting five attempts would cost 30 s of backoff each, and
// the workflow unit tests cover exhaustion.
func TestProviderErrorMatrixThroughTheStack(t *testing.T) {
	t.Parallel()
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)
	cases := providerCases(fake)
	byPrompt := map[string]providerCase{}
	for _, tc := range cases {
		byPrompt[prompt(tc)] = tc
	}
	fake.SetPromptFailFunc(func(model, prompt string, call int) *workersaitest.Failure {
		tc, ok := byPrompt[prompt]
		if !ok || call > len(tc.answers) {
			return nil
		}
		return &tc.answers[call-1]
	})

	cfg := devConfig(t.TempDir(), fake)
	cfg.ProviderTimeout = providerTimeout
	a := startApp(t, testkit.Dev, cfg)
	c := newClient(t, a.MCPURL)

	start := time.Now()
	ids := map[string]string{}
	for _, tc := range cases {
		ids[tc.name] = startJob(t, c, prompt(tc), tc.model)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, out := waitJob(t, c, ids[tc.name], 60*time.Second)
			job, _ := out["job"].(map[string]any)
			calls := fake.CallsForPrompt(prompt(tc))
			if calls != tc.wantCalls {
				t.Errorf("provider calls = %d, want %d", calls, tc.wantCalls)
			}
			if tc.advice == "" {
				if res.IsError || job["status"] != "completed" {
					t.Fatalf("job did not recover: %+v", out)
				}
				checkStoredImage(t, job["image_url"].(string), job["content_type"].(string), fake.Image(tc.model))
				return
			}
			msg, _ := out["message"].(string)
			if !res.IsError || job["status"] != "failed" {
				t.Fatalf("wait_for_completion = %+v, want a failed job as a tool error", out)
			}
			if !strings.Contains(msg, tc.advice) {
				t.Errorf("wait_for_completion says %q, want advice %q", msg, tc.advice)
			}
			_, st := mustCall(t, c, "get_job_status", map[string]any{"job_id": ids[tc.name]})
			if errText, _ := st["error"].(string); st["status"] != "failed" || !strings.Contains(errText, tc.advice) {
				t.Errorf("get_job_status = %+v, want failed with advice %q", st, tc.advice)
			}
			if strings.Contains(toJSON(out)+toJSON(st), fake.APIToken) {
				t.Error("the answer leaks the Workers AI token")
			}
		})
	}
	t.Logf("measured: %d provider fault cases ran in %.1fs", len(cases), time.Since(start).Seconds())
}

func prompt(tc providerCase) string { return "fault matrix: " + tc.name }

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
