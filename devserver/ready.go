package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
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
	c, err := dialFrontend(ctx, s.frontendAddr, s.namespace)
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
func dialFrontend(ctx context.Context, addr, namespace string) (client.Client, error) {
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace, Logger: quiet})
		if err == nil {
			return c, nil
		}
		if werr := wait(ctx); werr != nil {
			return nil, fmt.Errorf("frontend %s not ready: %w", addr, errors.Join(err, werr))
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

// startUI runs the Web UI against the frontend. ui-server's Start blocks and
// calls its logger's Fatal (exiting the process) if it cannot bind, which is
// why the port was held by a probe listener until just before this call.
func (s *Server) startUI(opts Options, port int) (err error) {
	defer func() {
		// NewServer panics on a bad config; keep that inside Start's error.
		if r := recover(); r != nil {
			err = fmt.Errorf("web ui: %v", r)
		}
	}()
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                bracketIPv6(opts.Host),
		Port:                port,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		// Plain http on loopback: secure cookies would never be sent back.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true, // no outbound calls from a dev tool
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Start returns nil after Stop; it has no other useful error.
		_ = ui.Start()
	}()
	s.ui = ui
	s.uiDone = done
	s.uiAddr = "http://" + net.JoinHostPort(dialHost(opts.Host), strconv.Itoa(port))
	return nil
}

// bracketIPv6 formats host for ui-server, which joins host and port with a
// plain "%s:%d".
func bracketIPv6(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}
