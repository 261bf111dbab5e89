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
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
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
	return ensureSearchAttributes(ctx, c.OperatorService(), s.namespace, opts.SearchAttributes)
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

// ensureSearchAttributes adds the requested custom search attributes that
// are missing. They must exist before a workflow upserts them, or its
// workflow task fails and the workflow hangs.
func ensureSearchAttributes(ctx context.Context, ops operatorservice.OperatorServiceClient, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	list := func() (*operatorservice.ListSearchAttributesResponse, error) {
		resp, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err != nil {
			return nil, fmt.Errorf("list search attributes of %q: %w", namespace, err)
		}
		return resp, nil
	}
	have, err := list()
	if err != nil {
		return err
	}
	missing, err := missingSearchAttributes(want, have)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes to %q: %w", namespace, err)
	}
	// Read back: with the cache refreshed on read this is immediate, and it
	// proves the attributes are usable before Start returns.
	if have, err = list(); err != nil {
		return err
	}
	if missing, err = missingSearchAttributes(want, have); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("search attributes %v still missing after adding them", keys(missing))
	}
	return nil
}

// missingSearchAttributes returns the wanted attributes not registered yet,
// or an error when a name is taken by a system attribute or by a custom one
// of another type (changing a type would orphan existing data).
func missingSearchAttributes(want map[string]enumspb.IndexedValueType, have *operatorservice.ListSearchAttributesResponse) (map[string]enumspb.IndexedValueType, error) {
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		if _, ok := have.GetSystemAttributes()[name]; ok {
			return nil, fmt.Errorf("search attribute %q is a system attribute", name)
		}
		got, ok := have.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case got != typ:
			return nil, fmt.Errorf("search attribute %q exists as %v, not %v", name, got, typ)
		}
	}
	return missing, nil
}

func keys(m map[string]enumspb.IndexedValueType) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
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
