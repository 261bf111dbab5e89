package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/openai"
)

func newFake(t *testing.T, configure ...func(*openai.Config)) (*Server, *openai.Client) {
	t.Helper()
	f := NewServer()
	t.Cleanup(f.Close)
	cfg := f.Config()
	for _, fn := range configure {
		fn(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, c
}

func TestServerServesTheClientLikeTheRealAPI(t *testing.T) {
	f, c := newFake(t)
	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "a boat", Model: "openai-image", Width: 1024, Height: 1024}, imagegen.Inputs{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if img.ContentType != "image/png" || !bytes.Equal(img.Data, f.Image()) {
		t.Errorf("got %s with %d bytes, want the fake's PNG", img.ContentType, len(img.Data))
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Body["size"] != "1024x1024" || reqs[0].Body["model"] != "gpt-image-2" || f.Calls() != 1 {
		t.Errorf("requests = %+v, calls = %d", reqs, f.Calls())
	}
}

func TestServerRefusesWhatTheRealAPIRefuses(t *testing.T) {
	f := NewServer()
	t.Cleanup(f.Close)
	f.AddModel("dall-e-like")
	tests := []struct {
		name, key, body string
		wantStatus      int
		wantCode        string
	}{
		{"a valid GPT image request", f.APIKey, `{"model":"gpt-image-2","prompt":"x","n":1}`, 200, ""},
		{"response_format to a GPT image model", f.APIKey, `{"model":"gpt-image-2","prompt":"x","response_format":"b64_json"}`, 400, "unknown_parameter"},
		{"response_format to another model", f.APIKey, `{"model":"dall-e-like","prompt":"x","response_format":"b64_json"}`, 200, ""},
		{"a field the client never sends", f.APIKey, `{"model":"gpt-image-2","prompt":"x","steps":4}`, 400, "unknown_parameter"},
		{"an unknown model", f.APIKey, `{"model":"nope","prompt":"x"}`, 404, "model_not_found"},
		{"a malformed size", f.APIKey, `{"model":"gpt-image-2","prompt":"x","size":"1024*1024"}`, 400, ""},
		{"a wrong key", "sk-wrong", `{"model":"gpt-image-2","prompt":"x"}`, 401, "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/images/generations", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+tt.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			defer resp.Body.Close()
			var env struct {
				Error *struct {
					Code any `json:"code"`
				} `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&env)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantCode != "" && (env.Error == nil || env.Error.Code != tt.wantCode) {
				t.Errorf("error = %+v, want code %s", env.Error, tt.wantCode)
			}
		})
	}
}

func TestServerScriptedFailuresReachTheClientClassified(t *testing.T) {
	f, c := newFake(t)
	f.FailNext(http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota", "You exceeded your current quota.")
	f.FailNext(http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached.")
	for _, want := range []imagegen.ErrorKind{imagegen.KindQuotaExceeded, imagegen.KindCapacity} {
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
		requireKind(t, f, err, want)
	}
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{}); err != nil {
		t.Errorf("after the scripted failures: %v", err)
	}

	f2, unknown := newFake(t, func(cfg *openai.Config) { cfg.Model = "gpt-image-9" })
	_, err := unknown.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
	requireKind(t, f2, err, imagegen.KindUnknownModel)
}

// requireKind asserts that err is classified as want and does not carry the
// fake's key.
func requireKind(t *testing.T, f *Server, err error, want imagegen.ErrorKind) {
	t.Helper()
	if got := imagegen.KindOf(err); got != want {
		t.Fatalf("kind %q (err %v), want %s", got, err, want)
	}
	if strings.Contains(err.Error(), f.APIKey) {
		t.Fatalf("error text leaks the API key: %q", err)
	}
}
