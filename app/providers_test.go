package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/openai/openaitest"
	"github.com/imagegen/imagegen/workersai"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

func TestWorkerRoutesEachModelToItsProvider(t *testing.T) {
	wai := workersaitest.NewServer()
	t.Cleanup(wai.Close)
	oai := openaitest.NewServer()
	t.Cleanup(oai.Close)
	base := ProviderOptions{Name: ProviderWorkersAI, WorkersAI: workersai.Config{AccountID: wai.AccountID, APIToken: wai.APIToken, BaseURL: wai.URL}}
	log := slog.New(slog.DiscardHandler)

	t.Run("both configured", func(t *testing.T) {
		opts := base
		opts.OpenAI = &openai.Config{APIKey: oai.APIKey, BaseURL: oai.URL}
		p, err := realProviders(opts, log)
		if err != nil {
			t.Fatalf("realProviders: %v", err)
		}
		img, err := p.Generate(context.Background(), imagegen.Request{Prompt: "routed to openai", Model: "openai-image"}, imagegen.Inputs{})
		if err != nil || string(img.Data) != string(oai.Image()) {
			t.Fatalf("openai-image: %v (%d bytes)", err, len(img.Data))
		}
		if _, err := p.Generate(context.Background(), imagegen.Request{Prompt: "routed to workers ai", Model: "sdxl-base"}, imagegen.Inputs{}); err != nil {
			t.Fatalf("sdxl-base: %v", err)
		}
		if oai.Calls() != 1 || wai.CallsForPrompt("routed to workers ai") != 1 || wai.CallsForPrompt("routed to openai") != 0 {
			t.Errorf("calls: openai %d, workers ai %d/%d", oai.Calls(), wai.CallsForPrompt("routed to workers ai"), wai.CallsForPrompt("routed to openai"))
		}
	})

	t.Run("no OpenAI key", func(t *testing.T) {
		p, err := realProviders(base, log)
		if err != nil {
			t.Fatalf("realProviders: %v", err)
		}
		_, err = p.Generate(context.Background(), imagegen.Request{Prompt: "nowhere to go", Model: "openai-image"}, imagegen.Inputs{})
		if imagegen.KindOf(err) != imagegen.KindMisconfigured {
			t.Fatalf("openai-image without a key: %v, want misconfigured", err)
		}
		if wai.CallsForPrompt("nowhere to go") != 0 {
			t.Error("an openai-image request reached Workers AI")
		}
	})
}
