package objectstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/imagegen/imagegen"
)

const (
	testBucket = "images-test"
	testKeyID  = "AKIDOBJECTSTORETEST"
	// testSecret is distinctive so that a leak into any error text is found.
	testSecret = "sEcReT-0bjectst0re-d0-not-leak"
)

// recordedRequest is what the fake server saw, for asserting on headers the
// fake does not store (Cache-Control) or that must be absent (checksums).
type recordedRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
}

type requestLog struct {
	mu   sync.Mutex
	reqs []recordedRequest
}

func (l *requestLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, recordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// puts returns the PutObject requests seen for key.
func (l *requestLog) puts(key string) []recordedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recordedRequest
	for _, r := range l.reqs {
		if r.Method == http.MethodPut && r.Path == "/"+testBucket+"/"+key {
			out = append(out, r)
		}
	}
	return out
}

// newFakeS3 starts gofakes3 behind an httptest server with a request log in
// front; buckets lists the buckets to create.
func newFakeS3(t *testing.T, buckets ...string) (*httptest.Server, *requestLog) {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	log := &requestLog{}
	srv := httptest.NewServer(log.middleware(gofakes3.New(backend).Server()))
	t.Cleanup(srv.Close)
	return srv, log
}

func testS3Config(endpoint string) S3Config {
	return S3Config{
		Bucket:          testBucket,
		AccessKeyID:     testKeyID,
		SecretAccessKey: testSecret,
		Endpoint:        endpoint,
		UsePathStyle:    true,
		MaxAttempts:     1,
	}
}

func newTestS3(t *testing.T, cfg S3Config) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error()}
	var e *imagegen.Error
	if errors.As(err, &e) && e.Err != nil {
		texts = append(texts, e.Err.Error())
	}
	for _, s := range texts {
		if strings.Contains(s, testSecret) {
			t.Errorf("error text contains the secret key: %s", s)
		}
	}
}

func assertKind(t *testing.T, err error, want imagegen.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", want)
	}
	if got := imagegen.KindOf(err); got != want {
		t.Fatalf("kind = %q, want %q; err = %v", got, want, err)
	}
	assertNoSecret(t, err)
}

func TestS3PutThenGetReturnsBytesAndContentType(t *testing.T) {
	srv, log := newFakeS3(t, testBucket)
	store := newTestS3(t, testS3Config(srv.URL))
	ctx := context.Background()

	tests := []struct {
		name        string
		key         string
		data        []byte
		contentType string
	}{
		{"png at top level", "a.png", []byte("\x89PNG\r\n\x1a\nfake png"), "image/png"},
		{"jpeg under nested prefix", "images/2026/01/job-1_v2.jpg", bytes.Repeat([]byte{0xff, 0xd8, 0x00}, 5000), "image/jpeg"},
		{"empty webp", "empty.webp", []byte{}, "image/webp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.Put(ctx, tt.key, tt.data, tt.contentType); err != nil {
				t.Fatalf("Put: %v", err)
			}
			data, ct, err := store.Get(ctx, tt.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(data, tt.data) {
				t.Errorf("Get returned %d bytes, want %d", len(data), len(tt.data))
			}
			if ct != tt.contentType {
				t.Errorf("content type = %q, want %q", ct, tt.contentType)
			}
			// gofakes3 does not store Cache-Control, so check what was sent.
			puts := log.puts(tt.key)
			if len(puts) != 1 {
				t.Fatalf("saw %d PutObject requests, want 1", len(puts))
			}
			h := puts[0].Header
			if got := h.Get("Cache-Control"); got != CacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, CacheControl)
			}
			if got := h.Get("Content-Type"); got != tt.contentType {
				t.Errorf("sent Content-Type = %q, want %q", got, tt.contentType)
			}
		})
	}
}

func TestS3PutSameKeyTwiceKeepsLastWrite(t *testing.T) {
	srv, _ := newFakeS3(t, testBucket)
	store := newTestS3(t, testS3Config(srv.URL))
	ctx := context.Background()
	for _, d := range []string{"first", "second"} {
		if err := store.Put(ctx, "same.png", []byte(d), "image/png"); err != nil {
			t.Fatalf("Put %s: %v", d, err)
		}
	}
	data, _, err := store.Get(ctx, "same.png")
	if err != nil || string(data) != "second" {
		t.Fatalf("Get = %q, %v; want \"second\"", data, err)
	}
}

func TestS3GetMissingKeyIsNotExist(t *testing.T) {
	srv, _ := newFakeS3(t, testBucket)
	store := newTestS3(t, testS3Config(srv.URL))
	_, _, err := store.Get(context.Background(), "nope.png")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestS3PutRejectsBadKeysAndContentTypes(t *testing.T) {
	srv, log := newFakeS3(t, testBucket)
	store := newTestS3(t, testS3Config(srv.URL))
	tests := []struct{ name, key, contentType string }{
		{"empty key", "", "image/png"},
		{"absolute key", "/a.png", "image/png"},
		{"dot-dot segment", "a/../b.png", "image/png"},
		{"empty content type", "a.png", ""},
		{"header injection in content type", "a.png", "image/png\r\nX-Evil: 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.Put(context.Background(), tt.key, []byte("x"), tt.contentType); err == nil {
				t.Fatal("Put succeeded, want error")
			}
		})
	}
	if n := len(log.reqs); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestS3URLWithPublicBaseIsPlainURL(t *testing.T) {
	tests := []struct {
		name, base, key, want string
	}{
		{"custom domain", "https://img.example.com", "images/a.png", "https://img.example.com/images/a.png"},
		{"trailing slash trimmed", "https://pub-123.r2.dev/", "a.png", "https://pub-123.r2.dev/a.png"},
		{"base with path", "https://cdn.example.com/gen/", "images/2026/x.webp", "https://cdn.example.com/gen/images/2026/x.webp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testS3Config("https://acct.r2.cloudflarestorage.com")
			cfg.PublicBaseURL = tt.base
			got, err := newTestS3(t, cfg).URL(context.Background(), tt.key)
			if err != nil {
				t.Fatalf("URL: %v", err)
			}
			if got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJoinURLEscapesEachSegment(t *testing.T) {
	got := joinURL("https://img.example.com/", "a b/ü?#.png")
	want := "https://img.example.com/a%20b/%C3%BC%3F%23.png"
	if got != want {
		t.Errorf("joinURL = %q, want %q", got, want)
	}
}

func TestS3URLWithoutPublicBaseIsPresignedAndFetchable(t *testing.T) {
	tests := []struct {
		name        string
		ttl         time.Duration
		wantExpires string
	}{
		{"default TTL is seven days", 0, "604800"},
		{"custom TTL", time.Hour, "3600"},
		{"maximum TTL accepted", MaxPresignTTL, "604800"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newFakeS3(t, testBucket)
			cfg := testS3Config(srv.URL)
			cfg.PresignTTL = tt.ttl
			store := newTestS3(t, cfg)
			ctx := context.Background()
			want := []byte("presigned image bytes")
			if err := store.Put(ctx, "images/p.png", want, "image/png"); err != nil {
				t.Fatalf("Put: %v", err)
			}
			raw, err := store.URL(ctx, "images/p.png")
			if err != nil {
				t.Fatalf("URL: %v", err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("parse %q: %v", raw, err)
			}
			q := u.Query()
			if q.Get("X-Amz-Signature") == "" {
				t.Errorf("URL %q has no X-Amz-Signature", raw)
			}
			if got := q.Get("X-Amz-Expires"); got != tt.wantExpires {
				t.Errorf("X-Amz-Expires = %q, want %q", got, tt.wantExpires)
			}
			if !strings.HasPrefix(raw, srv.URL+"/"+testBucket+"/images/p.png?") {
				t.Errorf("URL %q does not address the object path-style on the endpoint", raw)
			}
			if strings.Contains(raw, testSecret) {
				t.Errorf("URL contains the secret key")
			}

			resp, err := http.Get(raw)
			if err != nil {
				t.Fatalf("GET presigned URL: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Errorf("GET presigned URL = %d %q, want 200 %q", resp.StatusCode, body, want)
			}
		})
	}
}

func TestNewS3RejectsInvalidConfig(t *testing.T) {
	valid := testS3Config("https://acct.r2.cloudflarestorage.com")
	tests := []struct {
		name   string
		mutate func(*S3Config)
		want   string
	}{
		{"missing bucket", func(c *S3Config) { c.Bucket = "" }, "bucket"},
		{"missing access key ID", func(c *S3Config) { c.AccessKeyID = "" }, "access key ID"},
		{"missing secret", func(c *S3Config) { c.SecretAccessKey = "" }, "secret access key"},
		{"missing endpoint", func(c *S3Config) { c.Endpoint = "" }, "endpoint"},
		{"endpoint without scheme", func(c *S3Config) { c.Endpoint = "acct.r2.cloudflarestorage.com" }, "endpoint"},
		{"TTL over seven days", func(c *S3Config) { c.PresignTTL = MaxPresignTTL + time.Second }, "7-day"},
		{"negative TTL", func(c *S3Config) { c.PresignTTL = -time.Hour }, "negative"},
		{"relative public base URL", func(c *S3Config) { c.PublicBaseURL = "/images" }, "public base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			_, err := NewS3(context.Background(), cfg)
			assertKind(t, err, imagegen.KindMisconfigured)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestS3MissingBucketIsMisconfigured(t *testing.T) {
	srv, _ := newFakeS3(t) // no bucket created
	store := newTestS3(t, testS3Config(srv.URL))
	ctx := context.Background()

	err := store.Put(ctx, "images/x.png", []byte("x"), "image/png")
	assertKind(t, err, imagegen.KindMisconfigured)
	if imagegen.KindOf(err).Retryable() {
		t.Error("missing bucket is retryable, want permanent")
	}
	for _, want := range []string{"put images/x.png", testBucket, "NoSuchBucket"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertKind(t, store.Check(ctx), imagegen.KindMisconfigured)
	_, _, err = store.Get(ctx, "images/x.png")
	assertKind(t, err, imagegen.KindMisconfigured)
}

func TestS3CheckSucceedsForExistingBucket(t *testing.T) {
	srv, _ := newFakeS3(t, testBucket)
	if err := newTestS3(t, testS3Config(srv.URL)).Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

// s3ErrorServer answers every request with an S3 error document.
func s3ErrorServer(t *testing.T, status int, code string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>stub `+code+`</Message><RequestId>req-1</RequestId></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestS3ErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
		want   imagegen.ErrorKind
	}{
		{"access denied", http.StatusForbidden, "AccessDenied", imagegen.KindMisconfigured},
		{"unknown access key", http.StatusForbidden, "InvalidAccessKeyId", imagegen.KindMisconfigured},
		{"wrong secret", http.StatusForbidden, "SignatureDoesNotMatch", imagegen.KindMisconfigured},
		{"no such bucket", http.StatusNotFound, "NoSuchBucket", imagegen.KindMisconfigured},
		{"unauthorized", http.StatusUnauthorized, "Unauthorized", imagegen.KindMisconfigured},
		{"internal error", http.StatusInternalServerError, "InternalError", imagegen.KindStorage},
		{"slow down", http.StatusServiceUnavailable, "SlowDown", imagegen.KindStorage},
		{"bad gateway without S3 code", http.StatusBadGateway, "", imagegen.KindStorage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := s3ErrorServer(t, tt.status, tt.code)
			store := newTestS3(t, testS3Config(srv.URL))
			ctx := context.Background()

			err := store.Put(ctx, "images/x.png", []byte("x"), "image/png")
			assertKind(t, err, tt.want)
			if !strings.Contains(err.Error(), "put images/x.png") {
				t.Errorf("error %q lacks the operation and key", err)
			}
			if tt.want == imagegen.KindMisconfigured && !strings.Contains(err.Error(), testBucket) {
				t.Errorf("error %q does not name the bucket", err)
			}
			var e *imagegen.Error
			if errors.As(err, &e) && e.Status != tt.status {
				t.Errorf("Status = %d, want %d", e.Status, tt.status)
			}
			// HEAD responses carry no body: the status alone must classify.
			assertKind(t, store.Check(ctx), tt.want)
		})
	}
}

func TestS3UnreachableServerIsRetryableStorage(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	// The handler does not read the PUT body, so the server never notices
	// the client going away; release ends it before Close waits for it.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })

	tests := []struct {
		name     string
		endpoint string
		timeout  time.Duration
	}{
		{"connection refused", downURL, 10 * time.Second},
		{"deadline exceeded", hang.URL, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newTestS3(t, testS3Config(tt.endpoint))
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()

			err := store.Put(ctx, "images/x.png", []byte("x"), "image/png")
			assertKind(t, err, imagegen.KindStorage)
			if !imagegen.KindOf(err).Retryable() {
				t.Error("unreachable storage is not retryable")
			}
			if !strings.Contains(err.Error(), "put images/x.png") {
				t.Errorf("error %q lacks the operation and key", err)
			}
			assertKind(t, store.Check(ctx), imagegen.KindStorage)
		})
	}
}

func TestS3PutSendsNoChecksumHeaders(t *testing.T) {
	checksumHeaders := []string{"X-Amz-Checksum-Crc32", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Trailer"}
	hasChecksum := func(h http.Header) []string {
		var found []string
		for _, name := range checksumHeaders {
			if h.Get(name) != "" {
				found = append(found, name)
			}
		}
		if strings.Contains(h.Get("Content-Encoding"), "aws-chunked") {
			found = append(found, "Content-Encoding: aws-chunked")
		}
		return found
	}
	srv, log := newFakeS3(t, testBucket)
	ctx := context.Background()

	// Control: a client with the SDK's default checksum setting does send
	// them, so the assertion below can fail.
	awsCfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("auto"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenSupported),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("load control config: %v", err)
	}
	control := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
	if _, err := control.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("control.png"),
		Body: bytes.NewReader([]byte("control")), ContentType: aws.String("image/png"),
	}); err != nil {
		t.Fatalf("control PutObject: %v", err)
	}
	puts := log.puts("control.png")
	if len(puts) != 1 || len(hasChecksum(puts[0].Header)) == 0 {
		t.Fatalf("control client sent no checksum headers; the test cannot tell the settings apart")
	}

	store := newTestS3(t, testS3Config(srv.URL))
	if err := store.Put(ctx, "images/x.png", []byte("image"), "image/png"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	puts = log.puts("images/x.png")
	if len(puts) != 1 {
		t.Fatalf("saw %d PutObject requests, want 1", len(puts))
	}
	if found := hasChecksum(puts[0].Header); len(found) > 0 {
		t.Errorf("PutObject sent checksum headers %v; R2 needs them off", found)
	}
}

func TestS3IgnoresAmbientAWSSettings(t *testing.T) {
	dir := t.TempDir()
	hostile := `region = eu-west-1
endpoint_url = http://127.0.0.1:1
use_fips_endpoint = true
use_dualstack_endpoint = true
request_checksum_calculation = when_supported
response_checksum_validation = when_supported
aws_access_key_id = AKIDFROMFILE
aws_secret_access_key = secretfromfile
`
	configFile := filepath.Join(dir, "config")
	credsFile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(configFile, []byte("[default]\n"+hostile+"[profile hostile]\n"+hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credsFile, []byte("[default]\naws_access_key_id = AKIDFROMCREDS\naws_secret_access_key = x\n[hostile]\naws_access_key_id = AKIDFROMCREDS\naws_secret_access_key = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct{ name, profile string }{
		{"default profile", ""},
		{"AWS_PROFILE naming an existing profile", "hostile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_CONFIG_FILE", configFile)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
			t.Setenv("AWS_PROFILE", tt.profile)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secretfromenv")
			t.Setenv("AWS_SESSION_TOKEN", "tokenfromenv")
			t.Setenv("AWS_REGION", "us-west-2")
			t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
			t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
			t.Setenv("AWS_USE_FIPS_ENDPOINT", "true")
			t.Setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
			t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
			t.Setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")

			srv, log := newFakeS3(t, testBucket)
			store := newTestS3(t, testS3Config(srv.URL))
			if err := store.Put(context.Background(), "images/x.png", []byte("image"), "image/png"); err != nil {
				t.Fatalf("Put: %v", err)
			}
			puts := log.puts("images/x.png")
			if len(puts) != 1 {
				t.Fatalf("saw %d PutObject requests, want 1", len(puts))
			}
			h := puts[0].Header
			if auth := h.Get("Authorization"); !strings.Contains(auth, "Credential="+testKeyID+"/") || !strings.Contains(auth, "/auto/s3/") {
				t.Errorf("Authorization %q does not use the configured key ID and region auto", auth)
			}
			if tok := h.Get("X-Amz-Security-Token"); tok != "" {
				t.Errorf("sent ambient session token %q", tok)
			}
			if h.Get("X-Amz-Checksum-Crc32") != "" || h.Get("X-Amz-Sdk-Checksum-Algorithm") != "" {
				t.Error("ambient checksum setting overrode ours")
			}
		})
	}
}

// A profile named in AWS_PROFILE that does not exist fails every AWS SDK
// client; NewS3 reports it as a configuration problem instead of panicking or
// retrying.
func TestNewS3WithMissingAWSProfileIsMisconfigured(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "no-such-profile")
	_, err := NewS3(context.Background(), testS3Config("https://acct.r2.cloudflarestorage.com"))
	assertKind(t, err, imagegen.KindMisconfigured)
	if !strings.Contains(err.Error(), "no-such-profile") {
		t.Errorf("error %q does not name the profile", err)
	}
}
