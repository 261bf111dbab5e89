package objectstore_test

import (
	"github.com/imagegen/imagegen/activities"
	"github.com/imagegen/imagegen/objectstore"
)

// Both backends must satisfy the interface the activities depend on.
var (
	_ activities.Store = (*objectstore.S3)(nil)
	_ activities.Store = (*objectstore.Local)(nil)
)
