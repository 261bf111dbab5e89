// Package temporaladmin holds the namespace administration the service needs
// on any Temporal server, embedded or external: its custom search attributes.
package temporaladmin

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
)

// EnsureSearchAttributes adds the wanted custom search attributes that are
// missing from namespace. They must exist before a workflow upserts them, or
// its workflow task fails and the workflow hangs. A name taken by a system
// attribute, or by a custom one of another type, is an error (changing a type
// would orphan existing data).
func EnsureSearchAttributes(ctx context.Context, ops operatorservice.OperatorServiceClient, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	list := func() (*operatorservice.ListSearchAttributesResponse, error) {
		resp, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err != nil {
			return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
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
		return fmt.Errorf("register search attributes on namespace %s: %w", namespace, err)
	}
	// Read back: a server that refreshes its cache on read answers at once,
	// and it proves the attributes are usable before the first workflow.
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

// missingSearchAttributes returns the wanted attributes not registered yet.
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
