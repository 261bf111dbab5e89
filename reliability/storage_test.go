package reliability

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

const bucket = "images"

// flakyS3 sits in front of an S3 server and fails image uploads with the
// scripted faults, one per PUT, then lets them through. Thumbnail uploads
// (best effort, after the image) and history records (written after the
// image, see package history) pass and are not counted.
type flakyS3 struct {
	next   http.Handler
	faults []func(http.ResponseWriter)

	mu   sync.Mutex
	puts int
}

func (f *flakyS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/"+bucket+"/") && !strings.HasSuffix(r.URL.Path, ".thumb.jpg") &&
		!strings.HasPrefix(r.URL.Path, "/"+bucket+"/"+history.Prefix) {
		f.mu.Lock()
		f.puts++
		n := f.puts
		f.mu.Unlock()
		if n <= len(f.faults) {
			// Drain the upload first, as a server does, so that the client
			// reads the answer rather than a write error.
			_, _ = io.Copy(io.Discard, r.Body)
			f.faults[n-1](w)
			return
		}
	}
	f.next.ServeHTTP(w, r)
}

func (f *flakyS3) Puts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts
}

func s3Error(status int, code, message string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>`+code+`</Code><Message>`+message+`</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`)
	}
}

func dropS3Connection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// TestStorageOutageRetriesTheUploadNotTheProvider fails the first uploads to
// R2 (an S3 server) in three different ways; the job still completes, the
// provider is called once, and the object is stored with its content type.
func TestStorageOutageRetriesTheUploadNotTheProvider(t *testing.T) {
	t.Parallel()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyS3{next: gofakes3.New(backend).Server(), faults: []func(http.ResponseWriter){
		s3Error(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."),
		dropS3Connection,
		s3Error(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."),
	}}
	s3srv := httptest.NewServer(flaky)
	t.Cleanup(s3srv.Close)
	fake := workersaitest.NewServer()
	t.Cleanup(fake.Close)

	cfg := devConfig(t.TempDir(), fake)
	cfg.R2Bucket, cfg.R2AccessKeyID, cfg.R2SecretAccessKey = bucket, "AKIDRELIABILITY", "reliability-s3-secret"
	cfg.R2Endpoint, cfg.R2PublicURL, cfg.R2PathStyle = s3srv.URL, s3srv.URL+"/"+bucket, true
	a := startApp(t, testkit.Dev, cfg)
	c := newClient(t, a.MCPURL)

	start := time.Now()
	id := startJob(t, c, "a harbour at dawn", "sdxl-base")
	job := waitCompleted(t, c, id, 60*time.Second)
	took := time.Since(start)

	t.Logf("measured: %d upload attempts (%d failed), %d provider call(s), job done in %.1fs",
		flaky.Puts(), len(flaky.faults), fake.Calls(), took.Seconds())
	if fake.Calls() != 1 {
		t.Errorf("provider called %d times, want 1: a storage fault must retry only the upload", fake.Calls())
	}
	if got, want := flaky.Puts(), len(flaky.faults)+1; got != want {
		t.Errorf("%d upload attempts, want %d (each fault retried once more)", got, want)
	}

	url := job["image_url"].(string)
	key := strings.TrimPrefix(url, cfg.R2PublicURL+"/")
	obj, err := backend.HeadObject(bucket, key)
	if err != nil {
		t.Fatalf("object %s not in the bucket (image_url %s): %v", key, url, err)
	}
	if ct := obj.Metadata["Content-Type"]; ct != "image/png" {
		t.Errorf("object Content-Type %q, want image/png", ct)
	}
	checkStoredImage(t, url, "image/png", fake.Image("sdxl-base"))
}
