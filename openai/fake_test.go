package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
)

func newFake(t *testing.T, configure ...func(*Config)) (*FakeServer, *Client) {
	t.Helper()
	f := NewFakeServer()
	t.Cleanup(f.Close)
	cfg := f.Config()
	for _, fn := range configure {
		fn(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, c
}

func TestFakeServerServesTheClientLikeTheRealAPI(t *testing.T) {
	f, c := newFake(t)
	img, err := c.Generate(context.Background(), imagegen.Request{Prompt: "a boat", Model: "openai-image", Width: 1024, Height: 1024})
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

func TestFakeServerRefusesWhatTheRealAPIRefuses(t *testing.T) {
	f := NewFakeServer()
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

func TestFakeServerScriptedFailuresReachTheClientClassified(t *testing.T) {
	f, c := newFake(t)
	f.FailNext(http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota", "You exceeded your current quota.")
	f.FailNext(http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached.")
	for _, want := range []imagegen.ErrorKind{imagegen.KindQuotaExceeded, imagegen.KindCapacity} {
		_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"})
		requireKind(t, err, want)
	}
	if _, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}); err != nil {
		t.Errorf("after the scripted failures: %v", err)
	}

	_, unknown := newFake(t, func(cfg *Config) { cfg.Model = "gpt-image-9" })
	_, err := unknown.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"})
	requireKind(t, err, imagegen.KindUnknownModel)
}

// FuzzDecodeAnswer checks that no answer, however malformed, panics the
// decoder, and that every failure is classified.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add(200, "application/json", b64Answer(encodePNG(f, 8, 8)))
	f.Add(200, "application/json", []byte(`{"data":[{"url":"http://127.0.0.1/x.png"}]}`))
	f.Add(200, "application/json", []byte(`{"error":"just a string"}`))
	f.Add(400, "application/json", []byte(`{"error":{"message":"m","type":"t","code":42}}`))
	f.Add(429, "application/json", []byte(`{"error":{"message":"m","type":"insufficient_quota","code":null}}`))
	f.Add(502, "text/plain", []byte("bad gateway"))
	f.Add(200, "", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		ans, err := decodeAnswer(status, contentType, body)
		if err != nil {
			if imagegen.KindOf(err) == "" {
				t.Fatalf("error %v is not an *imagegen.Error", err)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("status %d decoded as a success", status)
		}
		if (len(ans.data) == 0) == (ans.url == "") {
			t.Fatalf("success with %d bytes and url %q: want exactly one", len(ans.data), ans.url)
		}
	})
}
