package app

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/openai/openaitest"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

func TestConfigValidateChecksTheOpenAISettingsTogether(t *testing.T) {
	const key = "sk-config-test-0123456789"
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no OpenAI settings", func(c *Config) {}, ""},
		{"a key alone", func(c *Config) { c.OpenAIAPIKey = key }, ""},
		{"key, base URL and model", func(c *Config) {
			c.OpenAIAPIKey, c.OpenAIBaseURL, c.OpenAIImageModel = key, "http://localhost:8080/v1", "stablediffusion"
		}, ""},
		{"a base URL without a key", func(c *Config) { c.OpenAIBaseURL = "http://localhost:8080/v1" }, "OPENAI_API_KEY is not"},
		{"a model without a key", func(c *Config) { c.OpenAIImageModel = "gpt-image-2" }, "OPENAI_API_KEY is not"},
		{"a malformed base URL", func(c *Config) { c.OpenAIAPIKey, c.OpenAIBaseURL = key, "localhost:8080" }, "OPENAI_BASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}.Defaults()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestWorkerRoutesEachModelToItsProvider(t *testing.T) {
	wai := workersaitest.NewServer()
	t.Cleanup(wai.Close)
	oai := openaitest.NewServer()
	t.Cleanup(oai.Close)
	base := Config{CloudflareAccountID: wai.AccountID, CloudflareAPIToken: wai.APIToken, CloudflareBaseURL: wai.URL}.Defaults()

	t.Run("both configured", func(t *testing.T) {
		cfg := base
		cfg.OpenAIAPIKey, cfg.OpenAIBaseURL = oai.APIKey, oai.URL
		o, err := cfg.Options(nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := realProviders(o.Provider, NewLogger(io.Discard, "text", "error"))
		if err != nil {
			t.Fatalf("realProviders: %v", err)
		}
		img, err := p.Generate(context.Background(), imagegen.Request{Prompt: "routed to openai", Model: "openai-image"})
		if err != nil || string(img.Data) != string(oai.Image()) {
			t.Fatalf("openai-image: %v (%d bytes)", err, len(img.Data))
		}
		if _, err := p.Generate(context.Background(), imagegen.Request{Prompt: "routed to workers ai", Model: "sdxl-base"}); err != nil {
			t.Fatalf("sdxl-base: %v", err)
		}
		if oai.Calls() != 1 || wai.CallsForPrompt("routed to workers ai") != 1 || wai.CallsForPrompt("routed to openai") != 0 {
			t.Errorf("calls: openai %d, workers ai %d/%d", oai.Calls(), wai.CallsForPrompt("routed to workers ai"), wai.CallsForPrompt("routed to openai"))
		}
	})

	t.Run("no OpenAI key", func(t *testing.T) {
		o, err := base.Options(nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := realProviders(o.Provider, NewLogger(io.Discard, "text", "error"))
		if err != nil {
			t.Fatalf("realProviders: %v", err)
		}
		_, err = p.Generate(context.Background(), imagegen.Request{Prompt: "nowhere to go", Model: "openai-image"})
		if imagegen.KindOf(err) != imagegen.KindMisconfigured {
			t.Fatalf("openai-image without a key: %v, want misconfigured", err)
		}
		if wai.CallsForPrompt("nowhere to go") != 0 {
			t.Error("an openai-image request reached Workers AI")
		}
	})
}
