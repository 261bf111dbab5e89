package workflows_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/openai/openaitest"
	"github.com/imagegen/imagegen/providers"
	"github.com/imagegen/imagegen/workersai"
	"github.com/imagegen/imagegen/workersai/workersaitest"
	"github.com/imagegen/imagegen/workflows"
)

// failureCase is one row of the provider error matrix: a fault that lasts
// (every call fails the same way, so retryable faults exhaust their attempts)
// and the exact message a failed job then shows.
type failureCase struct {
	name  string
	model string
	// workersai answers every Workers AI call; openai is queued for each
	// OpenAI call (every attempt).
	workersai *workersaitest.Failure
	openai    *openaitest.Answer
	// store, if set, makes every image upload fail with it.
	store error
	// loseStaged wipes the staging area after every Generate.
	loseStaged bool
	// noWorkersAI leaves the Workers AI provider out of the worker.
	noWorkersAI bool
	// plan overrides the input's plan; input overrides the whole input.
	plan  func(*workflows.Plan)
	input *workflows.Input

	wantKind    imagegen.ErrorKind
	wantMessage string
}

func wenv(status, code int, message string) *workersaitest.Failure {
	return &workersaitest.Failure{Status: status, Code: code, Message: message}
}

func oenv(status int, errType, code, message string) *openaitest.Answer {
	body := fmt.Sprintf(`{"error":{"message":%q,"type":%q,"param":null,"code":%q}}`, message, errType, code)
	return &openaitest.Answer{Status: status, ContentType: "application/json", Body: []byte(body)}
}

// Advice, as imagegen.ErrorKind.Advice words it, repeated here so that a
// change to it shows in this table.
const (
	adviceInput    = "Rephrase the prompt or fix the parameters, then start a new job."
	adviceModel    = "Use one of the listed models."
	adviceAuth     = "Retrying will not help: tell the operator to check the service's provider credentials."
	adviceQuota    = "Retrying today will not help: try again tomorrow (the Workers AI free allocation resets at 00:00 UTC), use another model, or ask the operator to raise the quota."
	adviceRetried  = "The provider kept failing after several retries; try again in a few minutes or with another model (flux-schnell is fastest)."
	adviceStorage  = "The image was generated but could not be stored after several retries; try again later."
	adviceMisconf  = "The service is misconfigured; tell the operator. Retrying will not help."
	adviceFallback = "Try again later."
)

func failureCases() []failureCase {
	return []failureCase{
		// Workers AI (envelopes as facts.md records them).
		{name: "workersai 5006 bad input", model: "flux-schnell",
			workersai: wenv(400, 5006, "AiError: Bad input: must NOT have additional properties"),
			wantKind:  imagegen.KindInvalidInput,
			wantMessage: "flux-schnell: Workers AI rejected the request (HTTP 400). Workers AI said: AiError: Bad input: must NOT have additional properties. " +
				adviceInput},
		{name: "workersai 5007 no such model", model: "sdxl-base",
			workersai: wenv(400, 5007, "No such model @cf/stabilityai/stable-diffusion-xl-base-1.0 or task"),
			wantKind:  imagegen.KindUnknownModel,
			wantMessage: "sdxl-base: Workers AI does not know this model (HTTP 400). Workers AI said: No such model @cf/stabilityai/stable-diffusion-xl-base-1.0 or task. " +
				adviceModel},
		{name: "workersai 3042 model not found", model: "sdxl-lightning",
			workersai:   wenv(404, 3042, "Model not found"),
			wantKind:    imagegen.KindUnknownModel,
			wantMessage: "sdxl-lightning: Workers AI does not know this model, or the base URL is wrong (HTTP 404). Workers AI said: Model not found. " + adviceModel},
		{name: "workersai 10000 bad token", model: "flux-schnell",
			workersai:   wenv(401, 10000, "Authentication error"),
			wantKind:    imagegen.KindUnauthorized,
			wantMessage: "flux-schnell: Workers AI refused the account ID or API token (HTTP 401). Workers AI said: Authentication error. " + adviceAuth},
		{name: "workersai 4006 daily free allocation", model: "flux-schnell",
			workersai: wenv(429, 4006, "you have used up your daily free allocation of 10,000 neurons, please upgrade to Cloudflare's Workers Paid plan"),
			wantKind:  imagegen.KindQuotaExceeded,
			wantMessage: "flux-schnell: the daily Workers AI free allocation is used up. Workers AI said: you have used up your daily free allocation of 10,000 neurons, please upgrade to Cloudflare's Workers Paid plan. " +
				adviceQuota},
		{name: "workersai 3036 daily free allocation", model: "sdxl-lightning",
			workersai:   wenv(429, 3036, "Account limited: daily free allocation exceeded"),
			wantKind:    imagegen.KindQuotaExceeded,
			wantMessage: "sdxl-lightning: the daily Workers AI free allocation is used up. Workers AI said: Account limited: daily free allocation exceeded. " + adviceQuota},
		{name: "workersai 3040 out of capacity, every attempt", model: "flux-schnell",
			workersai:   wenv(429, 3040, "Capacity temporarily exceeded, please try again."),
			wantKind:    imagegen.KindCapacity,
			wantMessage: "flux-schnell: Workers AI is out of capacity for this model (HTTP 429). Workers AI said: Capacity temporarily exceeded, please try again. " + adviceRetried},
		{name: "workersai 3007 inference timed out, every attempt", model: "sdxl-lightning",
			workersai:   wenv(408, 3007, "Inference timed out"),
			wantKind:    imagegen.KindTimeout,
			wantMessage: "sdxl-lightning: Workers AI inference timed out (HTTP 408). Workers AI said: Inference timed out. " + adviceRetried},
		{name: "workersai 500, every attempt", model: "sdxl-base",
			workersai:   wenv(500, 0, "Internal server error"),
			wantKind:    imagegen.KindUpstream,
			wantMessage: "sdxl-base: Workers AI failed (HTTP 500). Workers AI said: Internal server error. " + adviceRetried},
		{name: "workersai 502 gateway page, every attempt", model: "flux-schnell",
			workersai:   &workersaitest.Failure{Status: 502, ContentType: "text/html", Body: []byte("<html><body>502 Bad Gateway</body></html>")},
			wantKind:    imagegen.KindUpstream,
			wantMessage: "flux-schnell: Workers AI failed (HTTP 502). " + adviceRetried},
		{name: "workersai wrong content type, every attempt", model: "sdxl-lightning",
			workersai:   &workersaitest.Failure{Status: 200, ContentType: "text/plain", Body: []byte("upstream maintenance")},
			wantKind:    imagegen.KindBadResponse,
			wantMessage: "sdxl-lightning: Workers AI returned an unusable answer: unexpected content type \"text/plain\" (want application/json or image/*). " + adviceRetried},
		{name: "workersai connection reset, every attempt", model: "sdxl-base",
			workersai:   &workersaitest.Failure{Status: 0},
			wantKind:    imagegen.KindUpstream,
			wantMessage: "sdxl-base: the request failed: EOF. " + adviceRetried},
		{name: "workersai redirect", model: "flux-schnell",
			workersai:   &workersaitest.Failure{Status: 302, ContentType: "text/html", Body: nil},
			wantKind:    imagegen.KindMisconfigured,
			wantMessage: "flux-schnell: Workers AI answered with a redirect (HTTP 302), so the base URL is wrong. " + adviceMisconf},
		{name: "provider never answers in time, every attempt", model: "sdxl-lightning",
			workersai:   &workersaitest.Failure{Status: 200, ContentType: "image/png", Body: []byte("\x89PNG\r\n\x1a\nstalled"), Stall: time.Hour},
			plan:        func(p *workflows.Plan) { p.GenerateTimeout = 300 * time.Millisecond },
			wantKind:    imagegen.KindTimeout,
			wantMessage: "the provider did not answer in time. " + adviceRetried},

		// OpenAI-compatible images API (envelopes as OpenAI documents them).
		{name: "openai invalid request", model: "openai-image",
			openai:      oenv(400, "invalid_request_error", "invalid_value", "Invalid size '100x100'."),
			wantKind:    imagegen.KindInvalidInput,
			wantMessage: "openai-image (gpt-image-2): the images API rejected the request (HTTP 400). The images API said: Invalid size '100x100'. " + adviceInput},
		{name: "openai safety system", model: "openai-image",
			openai:      oenv(400, "invalid_request_error", "content_policy_violation", "Your request was rejected as a result of our safety system."),
			wantKind:    imagegen.KindInvalidInput,
			wantMessage: "openai-image (gpt-image-2): the prompt was refused by the provider's safety system. The images API said: Your request was rejected as a result of our safety system. " + adviceInput},
		{name: "openai bad key", model: "openai-image",
			openai:      oenv(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
			wantKind:    imagegen.KindUnauthorized,
			wantMessage: "openai-image (gpt-image-2): the images API refused the key in OPENAI_API_KEY (HTTP 401). The images API said: Incorrect API key provided. " + adviceAuth},
		{name: "openai model not found", model: "openai-image",
			openai:      oenv(404, "invalid_request_error", "model_not_found", "The model 'gpt-image-2' does not exist."),
			wantKind:    imagegen.KindUnknownModel,
			wantMessage: "openai-image (gpt-image-2): the images API does not know this model, or the base URL is wrong (HTTP 404). The images API said: The model 'gpt-image-2' does not exist. " + adviceModel},
		{name: "openai insufficient quota", model: "openai-image",
			openai:      oenv(429, "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."),
			wantKind:    imagegen.KindQuotaExceeded,
			wantMessage: "openai-image (gpt-image-2): the images API account's quota or billing limit is used up. The images API said: You exceeded your current quota, please check your plan and billing details. " + adviceQuota},
		{name: "openai rate limit, every attempt", model: "openai-image",
			openai:      oenv(429, "requests", "rate_limit_exceeded", "Rate limit reached for images per minute."),
			wantKind:    imagegen.KindCapacity,
			wantMessage: "openai-image (gpt-image-2): the images API is rate-limiting or out of capacity (HTTP 429). The images API said: Rate limit reached for images per minute. " + adviceRetried},
		{name: "openai 500, every attempt", model: "openai-image",
			openai:      oenv(500, "server_error", "", "The server had an error."),
			wantKind:    imagegen.KindUpstream,
			wantMessage: "openai-image (gpt-image-2): the images API failed (HTTP 500). The images API said: The server had an error. " + adviceRetried},
		{name: "openai answer that is not JSON, every attempt", model: "openai-image",
			openai:      &openaitest.Answer{Status: 200, ContentType: "text/html", Body: []byte("<html>login</html>")},
			wantKind:    imagegen.KindBadResponse,
			wantMessage: "openai-image (gpt-image-2): the images API returned an unusable answer: the answer is not JSON (content type \"text/html\", starts with \"<html>login</html>\"). " + adviceRetried},
		{name: "openai redirect", model: "openai-image",
			openai:      &openaitest.Answer{Status: 302, ContentType: "text/html"},
			wantKind:    imagegen.KindMisconfigured,
			wantMessage: "openai-image (gpt-image-2): the images API answered with a redirect (HTTP 302), so OPENAI_BASE_URL is wrong. " + adviceMisconf},

		// Storage, the worker and the job itself.
		{name: "storage failing through the whole upload budget", model: "flux-schnell",
			store:       &imagegen.Error{Kind: imagegen.KindStorage, Status: 503, Message: `put: bucket "imgs": SlowDown: please reduce your request rate`},
			wantKind:    imagegen.KindStorage,
			wantMessage: `put: bucket "imgs": SlowDown: please reduce your request rate. ` + adviceStorage},
		{name: "storage misconfigured", model: "flux-schnell",
			store:       &imagegen.Error{Kind: imagegen.KindMisconfigured, Status: 404, Message: `put: bucket "imgs": NoSuchBucket: The specified bucket does not exist`},
			wantKind:    imagegen.KindMisconfigured,
			wantMessage: `put: bucket "imgs": NoSuchBucket: The specified bucket does not exist. ` + adviceMisconf},
		{name: "staged image lost on every generation", model: "flux-schnell", loseStaged: true,
			wantKind:    activities.ErrTypeStagedImageLost,
			wantMessage: "the generated image was lost before it could be stored. " + adviceFallback},
		{name: "model's provider not configured", model: "flux-schnell", noWorkersAI: true,
			wantKind:    imagegen.KindMisconfigured,
			wantMessage: "model flux-schnell runs on the workersai provider, which is not configured on this service: use one of openai-image. " + adviceMisconf},
		{name: "unknown model in an input without a plan", model: "dall-e",
			input:       &workflows.Input{Request: imagegen.Request{Prompt: "p", Model: "dall-e"}},
			wantKind:    imagegen.KindUnknownModel,
			wantMessage: `unknown model "dall-e". ` + adviceModel},
	}
}

// TestFailedJobMessageIsExact is the one place the model-facing message of a
// failed job is asserted, for every class of provider, storage and worker
// failure: real provider clients against their fakes, the real activities
// and the workflow. The message checked is the job record's (the memo and the
// state query), which get_job_status and wait_for_completion show as is.
func TestFailedJobMessageIsExact(t *testing.T) {
	for _, tc := range failureCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wfake := workersaitest.NewServer()
			t.Cleanup(wfake.Close)
			ofake := openaitest.NewServer()
			t.Cleanup(ofake.Close)
			if tc.workersai != nil {
				fail := *tc.workersai
				wfake.SetFailFunc(func(string, int) *workersaitest.Failure { return &fail })
			}
			if tc.openai != nil {
				for range 5 { // one per attempt
					ofake.ReplyNext(*tc.openai)
				}
			}
			wc, err := workersai.New(wfake.Config())
			if err != nil {
				t.Fatal(err)
			}
			oc, err := openai.New(ofake.Config())
			if err != nil {
				t.Fatal(err)
			}
			routes := map[string]providers.Provider{"workersai": wc, "openai": oc}
			if tc.noWorkersAI {
				delete(routes, "workersai")
			}
			store := newMemStore()
			if tc.store != nil {
				store.failN, store.failErr = -1, tc.store
			}
			stagingDir := t.TempDir()
			staging, err := activities.OpenStaging(stagingDir, "test-store")
			if err != nil {
				t.Fatal(err)
			}

			var s testsuite.WorkflowTestSuite
			s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := s.NewTestWorkflowEnvironment()
			env.SetWorkerOptions(noisyMachine)
			env.RegisterWorkflowWithOptions(workflows.GenerateImage, workflowOpts())
			env.RegisterActivity(&activities.Activities{Provider: providers.NewRouter(routes), ImageStore: store, ProviderName: "test", Staging: staging})
			env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)
			var details []activities.FailureDetails
			env.SetOnActivityCompletedListener(func(info *activityInfo, _ encodedValue, err error) {
				var ae *temporal.ApplicationError
				if errors.As(err, &ae) && ae.HasDetails() {
					var d activities.FailureDetails
					if derr := ae.Details(&d); derr != nil {
						t.Errorf("failure details of %s do not decode: %v", info.ActivityType.Name, derr)
					}
					details = append(details, d)
				}
				if tc.loseStaged && info.ActivityType.Name == "Generate" && err == nil {
					files, _ := filepath.Glob(filepath.Join(stagingDir, "*_*"))
					for _, f := range files {
						os.Remove(f)
					}
				}
			})

			in := workflows.Input{}
			if tc.input != nil {
				in = *tc.input
			} else {
				in = newInput(t, imagegen.Request{Prompt: "a matrix row", Model: tc.model}, 1)
				if tc.plan != nil {
					tc.plan(in.Plan)
				}
			}
			env.ExecuteWorkflow(workflows.WorkflowName, in)
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			werr := env.GetWorkflowError()
			v, err := env.QueryWorkflow(workflows.QueryState)
			if err != nil {
				t.Fatal(err)
			}
			var rec workflows.Record
			if err := v.Get(&rec); err != nil {
				t.Fatal(err)
			}
			if rec.Status != workflows.StatusFailed || rec.ErrorKind != string(tc.wantKind) {
				t.Fatalf("job ended %s with kind %q (%v), want failed with %s", rec.Status, rec.ErrorKind, werr, tc.wantKind)
			}
			if rec.Error != tc.wantMessage {
				t.Errorf("message:\n got %s\nwant %s", rec.Error, tc.wantMessage)
			}
			var ae *temporal.ApplicationError
			if !errors.As(werr, &ae) || ae.Message() != rec.Error || ae.Type() != string(tc.wantKind) {
				t.Errorf("workflow error = %v, want the recorded message with type %s", werr, tc.wantKind)
			}
			for _, d := range details {
				if d.Kind != tc.wantKind {
					t.Errorf("failure details say kind %s, want %s", d.Kind, tc.wantKind)
				}
			}
			for _, secret := range []string{wfake.APIToken, ofake.APIKey} {
				if strings.Contains(rec.Error, secret) || strings.Contains(fmt.Sprint(details), secret) {
					t.Errorf("a provider secret leaked into the message or failure details")
				}
			}
		})
	}
}
