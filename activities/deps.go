package activities

import (
	"context"
	"time"

	"github.com/imagegen/imagegen"
)

// Provider generates one image. Implementations: workersai.Client (Cloudflare
// Workers AI) and preview.Renderer (offline placeholder). Errors should be
// *imagegen.Error so that the activity can decide whether to retry.
type Provider interface {
	Generate(ctx context.Context, req imagegen.Request, inputs imagegen.Inputs) (imagegen.Image, error)
}

// Store keeps images and names them with a URL. Implementations live in
// package objectstore (S3/R2 and a local directory). Put must be idempotent:
// writing the same key twice leaves one object. Get reads an object back (a
// missing key gives an error matching fs.ErrNotExist): the input images of
// an edit.
type Store interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Get(ctx context.Context, key string) (data []byte, contentType string, err error)
	URL(ctx context.Context, key string) (string, error)
}

// Fetcher downloads an input image named by an http(s) URL (imagefetch.Fetcher
// in production). It must refuse destinations an operator has not allowed
// (private, loopback, link-local addresses), bound size and time, and return
// the body with its sniffed content type (never the server's header). Errors
// are *imagegen.Error: KindInvalidInput for refusals (address, scheme, too
// big, not an image, 4xx), KindUpstream or KindTimeout for retryable trouble.
// Messages name at most the URL's host, never its query string.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string) (data []byte, contentType string, err error)
}

// Observer is told about provider and storage calls (metrics.Metrics in
// production). Nil means nobody listens.
type Observer interface {
	ProviderCall(model string, d time.Duration, err error)
	StoreCall(d time.Duration, err error)
	Retry(activity string)
	// PaidCall is one paid provider call (see Spend): outcome "image" or
	// "no_image" (paid for, produced nothing); cost is meaningless when
	// priced is false (the model has no published price).
	PaidCall(model, outcome string, cost imagegen.USD, priced bool)
}
