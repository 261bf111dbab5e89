package providers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
)

// named answers with its own name as the image bytes, so a test can tell
// which implementation served a request.
type named struct {
	name string
	got  []imagegen.Request
}

func (n *named) Generate(_ context.Context, req imagegen.Request, _ imagegen.Inputs) (imagegen.Image, error) {
	n.got = append(n.got, req)
	return imagegen.Image{Data: []byte(n.name), ContentType: "image/png"}, nil
}

func TestRouterPicksTheImplementationByTheModelsProvider(t *testing.T) {
	wai, oai := &named{name: "workersai"}, &named{name: "openai"}
	r := NewRouter(map[string]Provider{"workersai": wai, "openai": oai})
	for _, m := range imagegen.Models() {
		img, err := r.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: m.Name}, imagegen.Inputs{})
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if string(img.Data) != m.Provider {
			t.Errorf("%s: served by %s, want %s", m.Name, img.Data, m.Provider)
		}
	}
	if len(oai.got) == 0 || len(wai.got) == 0 {
		t.Fatalf("calls: workersai %d, openai %d; the table should have models of both", len(wai.got), len(oai.got))
	}
}

func TestRouterFillsInTheDefaultModelBeforeRouting(t *testing.T) {
	wai := &named{name: "workersai"}
	r := NewRouter(map[string]Provider{"workersai": wai})
	if _, err := r.Generate(context.Background(), imagegen.Request{Prompt: "x"}, imagegen.Inputs{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(wai.got) != 1 || wai.got[0].Model != imagegen.DefaultModel {
		t.Errorf("requests = %+v, want one for %s", wai.got, imagegen.DefaultModel)
	}
}

func TestRouterFailsFastForAProviderThatIsNotConfigured(t *testing.T) {
	wai := &named{name: "workersai"}
	r := NewRouter(map[string]Provider{"workersai": wai, "openai": nil})
	_, err := r.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "openai-image"}, imagegen.Inputs{})
	var e *imagegen.Error
	if !errors.As(err, &e) || e.Kind != imagegen.KindMisconfigured || e.Kind.Retryable() {
		t.Fatalf("err = %v, want a non-retryable misconfigured *imagegen.Error", err)
	}
	for _, want := range []string{"openai-image", "openai provider", "not configured", "flux-schnell"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not contain %q", e.Message, want)
		}
	}
	if strings.Contains(e.Message, "use one of openai-image") || len(wai.got) != 0 {
		t.Errorf("message %q or calls %d: the unconfigured model must not be offered or routed elsewhere", e.Message, len(wai.got))
	}
	if got := r.Providers(); !slices.Equal(got, []string{"workersai"}) {
		t.Errorf("Providers = %v, want [workersai]", got)
	}
}

func TestRouterRefusesAnUnknownModel(t *testing.T) {
	r := NewRouter(map[string]Provider{"workersai": &named{name: "workersai"}})
	_, err := r.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "dall-e-3"}, imagegen.Inputs{})
	if imagegen.KindOf(err) != imagegen.KindUnknownModel {
		t.Fatalf("err = %v, want unknown_model", err)
	}
}
