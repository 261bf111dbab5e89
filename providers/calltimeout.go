package providers

import (
	"context"
	"time"

	"github.com/imagegen/imagegen"
)

// WithCallTimeout bounds every provider call by d, or by the model's own
// Timeout when d is 0. The generate activity's deadline (the model's Timeout
// plus 30 s) would otherwise be the only bound, since a provider applies the
// model's Timeout only to a context without a deadline: a stalled answer would
// use up the margin meant for staging the image and end as an unclassified
// activity timeout instead of a provider timeout.
func WithCallTimeout(p Provider, d time.Duration) Provider {
	return callTimeout{p: p, d: d}
}

type callTimeout struct {
	p Provider
	d time.Duration
}

func (c callTimeout) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	d := c.d
	if d <= 0 {
		if m, ok := imagegen.LookupModel(req.WithDefaults().Model); ok {
			d = m.Timeout
		}
	}
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return c.p.Generate(ctx, req, inputs)
}
