package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Local stores images as files under a directory, for development without an
// S3 server. The content type is not stored: it follows from the key's
// extension, so keys should end in .png, .jpg, .webp and the like.
type Local struct {
	dir     string
	baseURL string
}

// NewLocal creates dir if needed. publicBaseURL is where the caller serves
// Handler (mounted at /images/), e.g. http://localhost:8080.
func NewLocal(dir, publicBaseURL string) (*Local, error) {
	if dir == "" {
		return nil, fmt.Errorf("local store: empty directory")
	}
	base, err := parseBaseURL("local store: public base URL", publicBaseURL)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	return &Local{dir: abs, baseURL: base}, nil
}

// Put writes data to a temporary file in the target directory and renames it
// into place, so readers see either the old file or the whole new one, never
// a partial image, and rewriting a key is idempotent.
func (l *Local) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := validateContentType(contentType); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	dst := filepath.Join(l.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// Keys cannot start a segment with '.', so temp files never clash with
	// stored images and are never served.
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	// Sync before rename: after a crash the key holds the whole image or
	// nothing new, never a truncated file.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	committed = true
	return nil
}

// URL is where Handler serves key: {publicBaseURL}/images/{key}.
func (l *Local) URL(ctx context.Context, key string) (string, error) {
	if err := validateKey(key); err != nil {
		return "", fmt.Errorf("url: %w", err)
	}
	return joinURL(l.baseURL+"/images", key), nil
}

// Get reads a stored image and names its type from the key's extension. A
// missing key gives an error that matches fs.ErrNotExist.
func (l *Local) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := validateKey(key); err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", key, err)
	}
	defer root.Close()
	data, err := root.ReadFile(filepath.FromSlash(key))
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", key, err)
	}
	return data, contentTypeByExt(key), nil
}

// Check reports whether the directory exists and a file can be created in
// it, for readiness probes.
func (l *Local) Check(ctx context.Context) error {
	info, err := os.Stat(l.dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", l.dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("check %s: not a directory", l.dir)
	}
	f, err := os.CreateTemp(l.dir, ".tmp-check-*")
	if err != nil {
		return fmt.Errorf("check %s: not writable: %w", l.dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("check %s: %w", l.dir, err)
	}
	return nil
}

// Handler serves GET and HEAD of stored images, with the request path taken
// as the key; mount it with http.StripPrefix("/images/", l.Handler()).
// Anything that is not a valid key naming a regular file is a 404: no
// directory listings, no temp files, and no way out of the directory (keys
// cannot contain "..", and files are opened through an os.Root, which also
// refuses symlinks that lead outside).
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key := r.URL.Path
		if validateKey(key) != nil {
			http.NotFound(w, r)
			return
		}
		root, err := os.OpenRoot(l.dir)
		if err != nil {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		defer root.Close()
		f, err := root.Open(filepath.FromSlash(key))
		if err != nil {
			// Missing files, escaping symlinks and unreadable files all look
			// missing from outside.
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentTypeByExt(key))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", CacheControl)
		// ServeContent handles HEAD, Range and If-Modified-Since.
		http.ServeContent(w, r, path.Base(key), info.ModTime(), f)
	})
}

// List returns up to limit keys under prefix that sort after startAfter, in
// ascending byte order, as S3 lists them. prefix must name a directory
// ("records/"); temp files and subdirectories are skipped.
func (l *Local) List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list %s: limit %d must be positive", prefix, limit)
	}
	dir := strings.TrimSuffix(prefix, "/")
	if err := validateKey(dir); err != nil || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("list %q: want a directory prefix such as \"records/\"", prefix)
	}
	entries, err := os.ReadDir(filepath.Join(l.dir, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	// ReadDir sorts by file name, which is byte order for these names.
	var keys []string
	for _, e := range entries {
		key := prefix + e.Name()
		if !e.Type().IsRegular() || validateKey(key) != nil || key <= startAfter {
			continue
		}
		keys = append(keys, key)
		if len(keys) == limit {
			break
		}
	}
	return keys, nil
}
