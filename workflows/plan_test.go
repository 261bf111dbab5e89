package workflows_test

import (
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

func TestNewInputResolvesThePlanFromTheModelsTable(t *testing.T) {
	for _, m := range imagegen.Models() {
		in, err := workflows.NewInput(imagegen.Request{Prompt: "p", Model: m.Name}, 2)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		want := workflows.Plan{Provider: m.Provider, GenerateTimeout: m.Timeout + 30*time.Second, GenerateAttempts: 5, Generations: 2}
		if in.Plan == nil || *in.Plan != want || in.N != 2 || in.Request.Model != m.Name {
			t.Errorf("%s: input %+v plan %+v, want plan %+v", m.Name, in, in.Plan, want)
		}
	}
	if _, err := workflows.NewInput(imagegen.Request{Prompt: "p", Model: "dall-e"}, 1); imagegen.KindOf(err) != imagegen.KindUnknownModel {
		t.Errorf("unknown model: err = %v, want unknown_model", err)
	}
}
