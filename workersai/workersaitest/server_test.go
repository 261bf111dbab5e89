package workersaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
	"github.com/imagegen/imagegen/workersai"
)

func newFake(t *testing.T) (*Server, *workersai.Client) {
	t.Helper()
	f := NewServer()
	t.Cleanup(f.Close)
	c, err := workersai.New(f.Config())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, c
}

// envelope is the Cloudflare API v4 JSON wrapper, as a client reads it.
type envelope struct {
	Success *bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// postRaw sends a body to the fake as any client would and decodes the envelope.
func postRaw(t *testing.T, f *Server, token, model string, body string) (int, string, envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/accounts/"+f.AccountID+"/ai/run/"+model, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var env envelope
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatalf("decoding envelope: %v", err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), env
}

func TestServerAnswersEachModelInItsWireFormat(t *testing.T) {
	f, c := newFake(t)
	served := 0
	for _, m := range imagegen.Models() {
		if m.Provider != "workersai" {
			continue
		}
		served++
		wire, _ := workersai.WireFor(m.ProviderModel)
		req := imagegen.Request{Prompt: "a boat", Model: m.Name}
		if m.MaxSteps > 0 {
			req.Steps = 2
		}
		img, err := c.Generate(context.Background(), req, imagegen.Inputs{})
		if err != nil {
			t.Fatalf("%s: Generate: %v", m.Name, err)
		}
		if img.ContentType != wire.MediaType {
			t.Errorf("%s: got %s, want %s", m.Name, img.ContentType, wire.MediaType)
		}
		var status int
		var ct string
		var env envelope
		if wire.Multipart {
			status, ct, env = postForm(t, f, m.ProviderModel, textPart("prompt", "a boat"))
		} else {
			status, ct, env = postRaw(t, f, f.APIToken, m.ProviderModel, `{"prompt":"a boat"}`)
		}
		wantCT := "application/json"
		if !wire.JSONAnswer {
			wantCT = wire.MediaType
		}
		if status != 200 || ct != wantCT {
			t.Errorf("%s: raw answer %d %s, want 200 %s", m.Name, status, ct, wantCT)
		}
		if wire.JSONAnswer && (env.Success == nil || !*env.Success) {
			t.Errorf("%s: envelope without success:true", m.Name)
		}
		if got := f.CallsFor(m.Name); got != 2 {
			t.Errorf("%s: CallsFor = %d, want 2", m.Name, got)
		}
	}
	if got, want := f.Calls(), 2*served; got != want {
		t.Errorf("Calls = %d, want %d", got, want)
	}
	reqs := f.Requests()
	if len(reqs) == 0 || reqs[0].Model != "flux-schnell" || reqs[0].Body["steps"] != json.Number("2") {
		t.Errorf("first recorded request = %+v", reqs[0])
	}
}

func TestServerEnforcesTheAPIContract(t *testing.T) {
	f, _ := newFake(t)
	tests := []struct {
		name, token, model, body string
		wantStatus, wantCode     int
	}{
		{"wrong token", "nope", "@cf/black-forest-labs/flux-1-schnell", `{"prompt":"x"}`, 401, 10000},
		{"unknown model", f.APIToken, "@cf/nobody/nothing", `{"prompt":"x"}`, 400, 5007},
		{"FLUX refuses width", f.APIToken, "@cf/black-forest-labs/flux-1-schnell", `{"prompt":"x","width":512}`, 400, 5006},
		{"FLUX refuses seed", f.APIToken, "@cf/black-forest-labs/flux-1-schnell", `{"prompt":"x","seed":1}`, 400, 5006},
		{"FLUX steps above 8", f.APIToken, "@cf/black-forest-labs/flux-1-schnell", `{"prompt":"x","steps":9}`, 400, 5006},
		{"missing prompt", f.APIToken, "@cf/stabilityai/stable-diffusion-xl-base-1.0", `{"num_steps":4}`, 400, 5006},
		{"SDXL width too small", f.APIToken, "@cf/stabilityai/stable-diffusion-xl-base-1.0", `{"prompt":"x","width":100}`, 400, 5006},
		{"SDXL fractional seed", f.APIToken, "@cf/bytedance/stable-diffusion-xl-lightning", `{"prompt":"x","seed":1.5}`, 400, 5006},
		{"SDXL accepts its extra fields", f.APIToken, "@cf/bytedance/stable-diffusion-xl-lightning", `{"prompt":"x","strength":0.5}`, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, env := postRaw(t, f, tt.token, tt.model, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			if tt.wantCode != 0 && (len(env.Errors) != 1 || env.Errors[0].Code != tt.wantCode || env.Success == nil || *env.Success) {
				t.Errorf("envelope %+v, want success:false with code %d", env, tt.wantCode)
			}
		})
	}
}

func TestServerScriptedFailuresMapToKinds(t *testing.T) {
	f, c := newFake(t)
	f.FailNext(1, 429, 3040, "Capacity temporarily exceeded")
	f.FailNext(1, 429, 4006, "you have used up your daily free allocation of 10,000 neurons")
	f.FailNext(1, 0, 0, "")
	f.FailNext(1, 200, 5006, "bad input")
	req := imagegen.Request{Prompt: "x", Model: "sdxl-lightning"}
	for _, want := range []imagegen.ErrorKind{imagegen.KindCapacity, imagegen.KindQuotaExceeded, imagegen.KindUpstream, imagegen.KindInvalidInput} {
		_, err := c.Generate(context.Background(), req, imagegen.Inputs{})
		if got := imagegen.KindOf(err); got != want {
			t.Fatalf("kind %q (err %v), want %s", got, err, want)
		}
	}
	if _, err := c.Generate(context.Background(), req, imagegen.Inputs{}); err != nil {
		t.Fatalf("after the script ran out: %v", err)
	}
	if f.Calls() != 5 || f.CallsFor("sdxl-lightning") != 5 {
		t.Errorf("Calls = %d, CallsFor = %d, want 5", f.Calls(), f.CallsFor("sdxl-lightning"))
	}
}

func TestServerFailFuncSeesModelAndCallNumber(t *testing.T) {
	f, c := newFake(t)
	f.SetFailFunc(func(model string, call int) *Failure {
		if model == "sdxl-base" && call <= 2 {
			return &Failure{Status: 503, Message: "overloaded"}
		}
		return nil
	})
	for i, want := range []imagegen.ErrorKind{imagegen.KindUpstream, imagegen.KindUpstream, ""} {
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{})
		if got := imagegen.KindOf(err); got != want {
			t.Fatalf("call %d: kind %q (err %v), want %q", i+1, got, err, want)
		}
	}
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("other model: %v", err)
	}
}

func TestServerDelayEndsWithTheCaller(t *testing.T) {
	f, c := newFake(t)
	f.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Generate(ctx, imagegen.Request{Prompt: "x", Model: "flux-schnell"}, imagegen.Inputs{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	// Close waits for every handler to return: that it returns at all means
	// the hour-long delay ended with the caller (were it not so, the test
	// binary's -timeout would report the hang). The delay never ran out:
	// nothing was answered.
	f.Close()
	if f.Calls() != 1 || len(f.Requests()) != 0 {
		t.Errorf("Calls = %d, answered Requests = %d; want 1 call, none answered", f.Calls(), len(f.Requests()))
	}
}

func TestServerCountsConcurrentCalls(t *testing.T) {
	f, c := newFake(t)
	f.SetDelay(10 * time.Millisecond)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "sdxl-base"}, imagegen.Inputs{}); err != nil {
				t.Errorf("Generate: %v", err)
			}
		})
	}
	wg.Wait()
	if f.Calls() != 20 || len(f.Requests()) != 20 {
		t.Errorf("Calls = %d, Requests = %d, want 20", f.Calls(), len(f.Requests()))
	}
}

func TestServerOnAnswerReportsEachSuccessfulAnswer(t *testing.T) {
	f, c := newFake(t)
	type answer struct {
		req Request
		at  time.Time
	}
	answers := make(chan answer, 10)
	f.SetOnAnswer(func(req Request, at time.Time) { answers <- answer{req, at} })
	f.FailNext(1, 503, 0, "overloaded")
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "fails", Model: "sdxl-base"}, imagegen.Inputs{}); err == nil {
		t.Fatal("scripted failure succeeded")
	}
	before := time.Now()
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "answered", Model: "flux-schnell"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// The hook runs once the answer is flushed, so it may still be running
	// when Generate returns: wait for it (were it never called, the test
	// binary's -timeout would report the hang).
	a := <-answers
	if a.req.Model != "flux-schnell" || a.req.Body["prompt"] != "answered" {
		t.Errorf("answer = %+v, want the successful flux-schnell call", a.req)
	}
	if a.at.Before(before) {
		t.Errorf("answer time %v is before the call started (%v)", a.at, before)
	}
	f.SetOnAnswer(nil)
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "unhooked", Model: "flux-schnell"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate after removing the hook: %v", err)
	}
	// The failed call must not have been reported.
	select {
	case a := <-answers:
		t.Errorf("unexpected answer reported: %+v", a.req)
	default:
	}
}

func TestServerImagesDecode(t *testing.T) {
	f, _ := newFake(t)
	for _, data := range [][]byte{f.jpeg, f.png} {
		if _, err := providerkit.CheckImage(bytes.Clone(data)); err != nil {
			t.Errorf("fake image does not decode: %v", err)
		}
	}
}

func TestServerScriptsFailuresPerPrompt(t *testing.T) {
	f, c := newFake(t)
	f.SetPromptFailFunc(func(model, prompt string, call int) *Failure {
		if prompt == "flaky" && call == 1 {
			return &Failure{Status: 503, Message: "overloaded"}
		}
		return nil
	})
	// Interleaved with another prompt on the same model: only "flaky" fails, once.
	for i, tc := range []struct {
		prompt string
		want   imagegen.ErrorKind
	}{{"steady", ""}, {"flaky", imagegen.KindUpstream}, {"steady", ""}, {"flaky", ""}} {
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: tc.prompt, Model: "sdxl-base"}, imagegen.Inputs{})
		if got := imagegen.KindOf(err); got != tc.want {
			t.Fatalf("call %d (%s): kind %q (err %v), want %q", i+1, tc.prompt, got, err, tc.want)
		}
	}
	if f.CallsForPrompt("flaky") != 2 || f.CallsForPrompt("steady") != 2 || f.CallsForPrompt("absent") != 0 {
		t.Errorf("CallsForPrompt flaky=%d steady=%d absent=%d, want 2, 2, 0",
			f.CallsForPrompt("flaky"), f.CallsForPrompt("steady"), f.CallsForPrompt("absent"))
	}
}

func TestServerRawAnswersExpressFaultsBeyondTheEnvelope(t *testing.T) {
	f, c := newFake(t)
	png := f.Image("sdxl-lightning")
	if got, err := providerkit.CheckImage(bytes.Clone(png)); err != nil || got != "image/png" {
		t.Fatalf("Image(sdxl-lightning) = %s, %v; want a whole PNG", got, err)
	}
	if f.Image("no-such-model") != nil {
		t.Error("Image of an unknown model is not nil")
	}
	f.FailNext(1, 0, 0, "")
	f.SetPromptFailFunc(func(model, prompt string, call int) *Failure {
		switch prompt {
		case "html":
			return &Failure{Status: 200, ContentType: "text/html", Body: []byte("<html>gateway</html>")}
		case "truncated":
			return &Failure{Status: 200, ContentType: "image/png", Body: png[:len(png)/2]}
		}
		return nil
	})
	for _, tc := range []struct {
		prompt, want string
	}{
		{"after a dropped connection", "EOF"}, // FailNext still comes first
		{"html", `unexpected content type "text/html"`},
		{"truncated", "unusable answer"},
	} {
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: tc.prompt, Model: "sdxl-lightning"}, imagegen.Inputs{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.prompt, err, tc.want)
		}
	}
	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "fine", Model: "sdxl-lightning"}, imagegen.Inputs{})
	if err != nil || !bytes.Equal(img.Data, png) {
		t.Fatalf("unscripted call: err %v, same bytes as Image: %v", err, bytes.Equal(img.Data, png))
	}
}

func TestServerStallHoldsTheAnswerHalfway(t *testing.T) {
	f, c := newFake(t)
	png := f.Image("sdxl-base")
	f.SetPromptFailFunc(func(model, prompt string, call int) *Failure {
		stall := time.Minute
		if call > 1 {
			stall = 10 * time.Millisecond
		}
		return &Failure{Status: 200, ContentType: "image/png", Body: png, Stall: stall}
	})

	// Past the caller's deadline: the client gets half a body, then gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Generate(ctx, imagegen.Request{Prompt: "slow", Model: "sdxl-base"}, imagegen.Inputs{})
	if imagegen.KindOf(err) != imagegen.KindTimeout {
		t.Fatalf("stalled past the deadline: kind %q (err %v), want timeout", imagegen.KindOf(err), err)
	}
	// A short stall still delivers the whole image.
	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "slow", Model: "sdxl-base"}, imagegen.Inputs{})
	if err != nil || !bytes.Equal(img.Data, png) {
		t.Fatalf("short stall: err %v, whole image: %v", err, bytes.Equal(img.Data, png))
	}
}

func TestServerAppliesTheLeonardoSchemas(t *testing.T) {
	f, _ := newFake(t)
	tests := []struct {
		name, model, body string
		wantStatus        int
	}{
		{"phoenix guidance at its minimum", "@cf/leonardo/phoenix-1.0", `{"prompt":"x","guidance":2}`, http.StatusOK},
		{"phoenix guidance under its minimum", "@cf/leonardo/phoenix-1.0", `{"prompt":"x","guidance":1}`, http.StatusBadRequest},
		{"phoenix 50 steps", "@cf/leonardo/phoenix-1.0", `{"prompt":"x","num_steps":50}`, http.StatusOK},
		{"phoenix 51 steps", "@cf/leonardo/phoenix-1.0", `{"prompt":"x","num_steps":51}`, http.StatusBadRequest},
		{"lucid origin 2500 wide", "@cf/leonardo/lucid-origin", `{"prompt":"x","width":2500}`, http.StatusOK},
		{"lucid origin 2501 wide", "@cf/leonardo/lucid-origin", `{"prompt":"x","width":2501}`, http.StatusBadRequest},
		{"lucid origin guidance over 10", "@cf/leonardo/lucid-origin", `{"prompt":"x","guidance":10.5}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, env := postRaw(t, f, f.APIToken, tt.model, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (errors %+v)", status, tt.wantStatus, env.Errors)
			}
			if status == http.StatusBadRequest && (len(env.Errors) == 0 || env.Errors[0].Code != 5006) {
				t.Errorf("errors = %+v, want code 5006", env.Errors)
			}
		})
	}
}
