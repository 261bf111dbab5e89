package providers

import (
	"context"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
)

type deadlineProbe struct{ left time.Duration }

func (p *deadlineProbe) Generate(ctx context.Context, _ imagegen.Request, _ imagegen.Inputs) (imagegen.Image, error) {
	if d, ok := ctx.Deadline(); ok {
		p.left = time.Until(d)
	}
	return imagegen.Image{}, nil
}

func TestProviderCallsAreBoundedByTheModelTimeoutInsideTheActivityDeadline(t *testing.T) {
	flux, _ := imagegen.LookupModel("flux-schnell")
	// The generate activity's context carries its own, longer deadline.
	activityCtx, cancel := context.WithTimeout(context.Background(), flux.Timeout+30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name     string
		override time.Duration
		model    string
		want     time.Duration
	}{
		{"model timeout by default", 0, "flux-schnell", flux.Timeout},
		{"default model when none named", 0, "", flux.Timeout},
		{"configured timeout wins", 2 * time.Second, "sdxl-base", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := &deadlineProbe{}
			if _, err := WithCallTimeout(probe, tc.override).Generate(activityCtx, imagegen.Request{Prompt: "x", Model: tc.model}, imagegen.Inputs{}); err != nil {
				t.Fatal(err)
			}
			if probe.left > tc.want || probe.left < tc.want-5*time.Second {
				t.Errorf("provider call has %v left, want about %v", probe.left, tc.want)
			}
		})
	}
}
