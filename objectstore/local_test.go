package objectstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestLocal(t *testing.T) (*Local, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	l, err := NewLocal(dir, "http://localhost:8080/")
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l, dir
}

func TestNewLocalCreatesDirectoryAndRejectsBadInput(t *testing.T) {
	_, dir := newTestLocal(t)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("store directory not created: %v", err)
	}
	tests := []struct{ name, dir, base string }{
		{"empty dir", "", "http://localhost:8080"},
		{"empty base URL", t.TempDir(), ""},
		{"relative base URL", t.TempDir(), "/images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewLocal(tt.dir, tt.base); err == nil {
				t.Fatal("NewLocal succeeded, want error")
			}
		})
	}
}

func TestLocalPutThenGetReturnsBytesAndContentType(t *testing.T) {
	l, _ := newTestLocal(t)
	ctx := context.Background()
	tests := []struct {
		name, key, contentType string
		data                   []byte
	}{
		{"png at top level", "a.png", "image/png", []byte("png bytes")},
		{"jpeg in new subdirectories", "images/2026/01/job-1.jpg", "image/jpeg", []byte{0xff, 0xd8, 0xff}},
		{"webp", "x.webp", "image/webp", []byte("webp")},
		{"unknown extension", "blob.bin", "application/octet-stream", []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Put(ctx, tt.key, tt.data, tt.contentType); err != nil {
				t.Fatalf("Put: %v", err)
			}
			data, ct, err := l.Get(ctx, tt.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(data, tt.data) || ct != tt.contentType {
				t.Errorf("Get = %q, %q; want %q, %q", data, ct, tt.data, tt.contentType)
			}
		})
	}
}

func TestLocalPutSameKeyTwiceKeepsLastWriteAndNoTempFiles(t *testing.T) {
	l, dir := newTestLocal(t)
	ctx := context.Background()
	for _, d := range []string{"first", "second, longer"} {
		if err := l.Put(ctx, "images/same.png", []byte(d), "image/png"); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := l.Put(ctx, "other.png", []byte("o"), "image/png"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	data, _, err := l.Get(ctx, "images/same.png")
	if err != nil || string(data) != "second, longer" {
		t.Fatalf("Get = %q, %v", data, err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(files, ",") != "images/same.png,other.png" {
		t.Errorf("files in store = %v, want only the two images (no temp files)", files)
	}
	info, err := os.Stat(filepath.Join(dir, "other.png"))
	// Images carry the prompt's content: private to the service's user,
	// who serves them over HTTP.
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("stored file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestLocalRejectsUnsafeKeys(t *testing.T) {
	l, dir := newTestLocal(t)
	ctx := context.Background()
	keys := []struct{ name, key string }{
		{"empty", ""},
		{"absolute", "/etc/passwd"},
		{"parent segment", "../escape.png"},
		{"parent segment inside", "images/../../escape.png"},
		{"dot segment", "images/./a.png"},
		{"backslash", `images\a.png`},
		{"NUL", "a\x00.png"},
		{"hidden file", ".tmp-123"},
		{"hidden segment", "images/.hidden/a.png"},
		{"empty segment", "images//a.png"},
		{"trailing slash", "images/"},
		{"space", "a b.png"},
		{"non-ASCII", "ü.png"},
		{"too long", strings.Repeat("a", maxKeyLen+1)},
	}
	for _, tt := range keys {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Put(ctx, tt.key, []byte("x"), "image/png"); err == nil {
				t.Error("Put succeeded, want error")
			}
			if _, _, err := l.Get(ctx, tt.key); err == nil {
				t.Error("Get succeeded, want error")
			}
			if _, err := l.URL(ctx, tt.key); err == nil {
				t.Error("URL succeeded, want error")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.png")); err == nil {
		t.Error("a traversal key wrote outside the store")
	}
}

func TestLocalURLIsUnderImages(t *testing.T) {
	l, _ := newTestLocal(t)
	got, err := l.URL(context.Background(), "images/2026/a.png")
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://localhost:8080/images/images/2026/a.png"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func TestLocalGetMissingKeyIsNotExist(t *testing.T) {
	l, _ := newTestLocal(t)
	if _, _, err := l.Get(context.Background(), "missing.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLocalCheck(t *testing.T) {
	l, dir := newTestLocal(t)
	if err := l.Check(context.Background()); err != nil {
		t.Fatalf("Check on fresh store: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(context.Background()); err == nil {
		t.Fatal("Check succeeded after the directory was removed")
	}
}

func TestLocalHandler(t *testing.T) {
	l, dir := newTestLocal(t)
	ctx := context.Background()
	png := []byte("\x89PNG fake")
	if err := l.Put(ctx, "gen/a.png", png, "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, "b.jpg", []byte("jpeg"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	// A secret next to the store, and a symlink inside pointing at it.
	outside := filepath.Join(filepath.Dir(dir), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.png")); err != nil {
		t.Fatal(err)
	}
	// The way the caller mounts it.
	mux := http.NewServeMux()
	mux.Handle("/images/", http.StripPrefix("/images/", l.Handler()))

	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"GET png", http.MethodGet, "/images/gen/a.png", 200, "image/png", string(png)},
		{"GET jpeg", http.MethodGet, "/images/b.jpg", 200, "image/jpeg", "jpeg"},
		{"HEAD has headers, no body", http.MethodHead, "/images/gen/a.png", 200, "image/png", ""},
		{"missing file", http.MethodGet, "/images/nope.png", 404, "", ""},
		{"directory", http.MethodGet, "/images/gen", 404, "", ""},
		{"directory with slash", http.MethodGet, "/images/gen/", 404, "", ""},
		{"store root", http.MethodGet, "/images/", 404, "", ""},
		{"encoded traversal", http.MethodGet, "/images/..%2fsecret.txt", 404, "", ""},
		{"symlink out of the store", http.MethodGet, "/images/link.png", 404, "", ""},
		{"POST not allowed", http.MethodPost, "/images/gen/a.png", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				if strings.Contains(rec.Body.String(), "secret") {
					t.Errorf("body leaks the outside file: %q", rec.Body)
				}
				return
			}
			h := rec.Header()
			if got := h.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if tt.method == http.MethodHead && h.Get("Content-Length") != "9" {
				t.Errorf("HEAD Content-Length = %q, want 9", h.Get("Content-Length"))
			}
		})
	}
}
