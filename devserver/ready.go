package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/imagegen/imagegen/internal/temporaladmin"
)

// retryEvery is the poll interval while the freshly started frontend warms up.
const retryEvery = 25 * time.Millisecond

// waitReady returns once a client can reach the frontend, the namespace has
// the configured retention and every requested search attribute exists. The
// checks go through the public API, the same path the app's client takes.
func (s *Server) waitReady(ctx context.Context, opts Options) error {
	c, err := dialFrontend(ctx, s.ClientOptions())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ensureRetention(ctx, c.WorkflowService(), s.namespace, opts.Retention); err != nil {
		return err
	}
	return temporaladmin.EnsureSearchAttributes(ctx, c.OperatorService(), s.namespace, opts.SearchAttributes)
}

// dialFrontend dials until the frontend answers (client.Dial checks the
// server with a GetSystemInfo call) or ctx ends.
func dialFrontend(ctx context.Context, opts client.Options) (client.Client, error) {
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if werr := wait(ctx); werr != nil {
			return nil, fmt.Errorf("frontend %s not ready: %w", opts.HostPort, errors.Join(err, werr))
		}
	}
}

// ensureRetention sets the namespace retention when it differs. A namespace
// created in this start already has it; one from an earlier run may not.
func ensureRetention(ctx context.Context, ws workflowservice.WorkflowServiceClient, namespace string, retention time.Duration) error {
	var desc *workflowservice.DescribeNamespaceResponse
	for {
		var err error
		desc, err = ws.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if err == nil {
			break
		}
		if !transient(err) {
			return fmt.Errorf("describe namespace %q: %w", namespace, err)
		}
		if werr := wait(ctx); werr != nil {
			return fmt.Errorf("describe namespace %q: %w", namespace, errors.Join(err, werr))
		}
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err := ws.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("set retention of namespace %q to %s: %w", namespace, retention, err)
	}
	return nil
}

// transient reports errors a just-started frontend may return before its
// caches and membership settle.
func transient(err error) bool {
	var (
		unavailable *serviceerror.Unavailable
		notFound    *serviceerror.NamespaceNotFound
		notReady    *serviceerror.NotFound
	)
	return errors.As(err, &unavailable) || errors.As(err, &notFound) || errors.As(err, &notReady)
}

// wait sleeps one retry interval, or returns ctx's error if it ends first.
func wait(ctx context.Context) error {
	t := time.NewTimer(retryEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
