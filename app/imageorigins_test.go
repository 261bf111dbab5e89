package app

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/imagegen/imagegen/objectstore"
)

// TestImageOriginsAreWhereTheStoreSendsBrowsers checks the origin the MCP
// Apps viewer's CSP allows, per store: it is asked of the store's own URLs,
// so a presigned R2 URL's bucket host or a public base's host is exact.
func TestImageOriginsAreWhereTheStoreSendsBrowsers(t *testing.T) {
	ctx := context.Background()
	s3 := func(cfg objectstore.S3Config) imageReader {
		t.Helper()
		cfg.Bucket, cfg.AccessKeyID, cfg.SecretAccessKey = "imagegen", "AKIDTEST", "secret-test-key"
		s, err := objectstore.NewS3(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	local, err := objectstore.NewLocal(t.TempDir(), "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		store imageReader
		want  []string
	}{
		{"local images: this server", local, []string{"http://127.0.0.1:8080"}},
		{"R2 with a public base", s3(objectstore.S3Config{Endpoint: "https://acct.r2.cloudflarestorage.com", PublicBaseURL: "https://images.example.com/gen"}),
			[]string{"https://images.example.com"}},
		{"R2 presigned: the bucket's virtual host", s3(objectstore.S3Config{Endpoint: "https://acct.r2.cloudflarestorage.com"}),
			[]string{"https://imagegen.acct.r2.cloudflarestorage.com"}},
		{"MinIO presigned, path style: the endpoint", s3(objectstore.S3Config{Endpoint: "http://127.0.0.1:9000", UsePathStyle: true}),
			[]string{"http://127.0.0.1:9000"}},
		{"no store: no origins", nil, nil},
	}
	a := &App{log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		if got := a.imageOrigins(tt.store); !slices.Equal(got, tt.want) {
			t.Errorf("%s: imageOrigins = %v, want %v", tt.name, got, tt.want)
		}
	}
}
