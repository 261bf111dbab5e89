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
		want := workflows.Plan{Provider: m.Provider, GenerateTimeout: m.Timeout + 30*time.Second, GenerateAttempts: 5, Generations: 2, InputSide: m.InputSide}
		if in.Plan == nil || in.N != 2 || in.Request.Model != m.Name {
			t.Fatalf("%s: input %+v plan %+v", m.Name, in, in.Plan)
		}
		got := *in.Plan
		cost := got.Cost
		got.Cost = nil
		if got != want {
			t.Errorf("%s: plan %+v, want %+v", m.Name, got, want)
		}
		// The estimate is resolved at start too: two images at the defaults,
		// or unknown for a model without a published price.
		est, priced := imagegen.EstimateCost(in.Request, 2)
		switch {
		case cost == nil:
			t.Errorf("%s: the plan carries no cost", m.Name)
		case priced != (cost.Estimate != nil) || priced && *cost.Estimate != est:
			t.Errorf("%s: estimate %v, want %s (priced %v)", m.Name, cost.Estimate, est, priced)
		}
	}
	if _, err := workflows.NewInput(imagegen.Request{Prompt: "p", Model: "dall-e"}, 1); imagegen.KindOf(err) != imagegen.KindUnknownModel {
		t.Errorf("unknown model: err = %v, want unknown_model", err)
	}
}
