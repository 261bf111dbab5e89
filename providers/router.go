// Package providers routes each generation to the provider that runs its
// model, by the models table's Provider field, so that one worker can serve
// Workers AI and OpenAI-compatible models side by side.
package providers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/imagegen/imagegen"
)

// Provider generates one image (activities.Provider, restated here so that
// this package needs nothing of the worker's).
type Provider interface {
	Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error)
}

// Router is a Provider that hands each request to the implementation
// configured for its model's provider. It is safe for concurrent use if the
// implementations are.
type Router struct {
	routes map[string]Provider
}

// NewRouter returns a router over routes, keyed by the models table's
// Provider names ("workersai", "openai"). A provider missing from routes, or
// mapped to nil, is not configured on this service: its models fail at once.
func NewRouter(routes map[string]Provider) *Router {
	r := &Router{routes: map[string]Provider{}}
	for name, p := range routes {
		if p != nil {
			r.routes[name] = p
		}
	}
	return r
}

// Generate dispatches by the request's model (the default model when it names
// none). A model whose provider is not configured fails with a non-retryable
// KindMisconfigured error that names the models this service can run.
func (r *Router) Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error) {
	req = req.WithDefaults()
	m, ok := imagegen.LookupModel(req.Model)
	if !ok {
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindUnknownModel,
			Message: fmt.Sprintf("unknown model %q: use one of %s", req.Model, strings.Join(imagegen.ModelNames(), ", "))}
	}
	p, ok := r.routes[m.Provider]
	if !ok {
		msg := fmt.Sprintf("model %s runs on the %s provider, which is not configured on this service", m.Name, m.Provider)
		if avail := r.Available(); len(avail) > 0 {
			msg += ": use one of " + strings.Join(avail, ", ")
		}
		return imagegen.Image{}, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: msg}
	}
	return p.Generate(ctx, req, inputs)
}

// Available names the models this router can run, in table order.
func (r *Router) Available() []string {
	var names []string
	for _, m := range imagegen.Models() {
		if _, ok := r.routes[m.Provider]; ok {
			names = append(names, m.Name)
		}
	}
	return names
}

// Providers names the configured providers, sorted.
func (r *Router) Providers() []string {
	var names []string
	for name := range r.routes {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
