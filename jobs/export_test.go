package jobs

import (
	"context"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/workflows"
)

// ResolveInputs exposes the start path's resolution of reference images to
// tests, apart from the models table's say on which models take them.
func (c *Client) ResolveInputs(ctx context.Context, req *imagegen.Request) ([]workflows.InputSource, *workflows.InputSource, error) {
	return c.resolveInputs(ctx, req)
}
