package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Files shared by docker-compose.yml and the cluster test suite, relative to
// the repository root.
const (
	// DynamicConfigFile is the Temporal dynamic config imagegen needs on a
	// SQL-backed cluster; every setting in it carries its reason.
	DynamicConfigFile = "deploy/dynamicconfig/imagegen.yaml"
	// ServerConfigFile is a Temporal server config for PostgreSQL, a
	// template over the environment (see the file), using DynamicConfigFile.
	ServerConfigFile = "deploy/temporal/postgres.yaml"
	// SchemaScript creates Temporal's databases and schemas with
	// temporal-sql-tool (see the script for its environment).
	SchemaScript = "deploy/temporal/schema.sh"
)

// The namespace step: the compose stack's temporal-namespace service runs
// "temporal operator namespace create -n Namespace --retention ..." with
// these values; RegisterNamespace does the same through the SDK.
const (
	Namespace = "default"
	// NamespaceRetention is how long finished jobs are kept: the 30 days
	// imagegen dev keeps them too.
	NamespaceRetention = 720 * time.Hour
)

// RegisterNamespace creates namespace name with the given retention on the
// cluster at hostPort, unless it exists, and waits until the frontend serves
// it: a new namespace is served only once the servers' namespace caches have
// refreshed (about 10 s), and imagegen fails to start on one it cannot use.
func RegisterNamespace(ctx context.Context, hostPort, name string, retention time.Duration) error {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: hostPort})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", hostPort, err)
	}
	defer nc.Close()
	if err := register(ctx, nc, name, retention); err != nil {
		return err
	}
	c, err := client.NewLazyClient(client.Options{HostPort: hostPort, Namespace: name})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", hostPort, err)
	}
	defer c.Close()
	for {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: name})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s registered but not served: %w (last error: %v)", name, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func register(ctx context.Context, c client.NamespaceClient, name string, retention time.Duration) error {
	err := c.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", name, err)
	}
	return nil
}
