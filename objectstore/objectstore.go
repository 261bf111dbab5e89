// Package objectstore keeps generated images and names them with URLs.
//
// Two backends implement activities.Store: S3 (Cloudflare R2, MinIO or any
// S3-compatible service, through aws-sdk-go-v2) for deployments, and Local (a
// directory served over HTTP) for development. Both accept the same keys, so a
// key that works in development works in production.
package objectstore

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"
)

// CacheControl is sent with every stored image. Keys are never reused for
// different content, so browsers and CDNs may keep an image for a year
// without revalidating.
const CacheControl = "public, max-age=31536000, immutable"

// maxKeyLen is S3's limit on object key length, in bytes.
const maxKeyLen = 1024

// validateKey rejects keys that are unsafe as file paths or URL paths. The
// rule is deliberately conservative: slash-separated segments of
// [A-Za-z0-9._-], each starting with a letter or digit. So keys cannot be
// absolute, cannot contain "." or ".." segments, empty segments, backslashes
// or NUL, and never collide with the ".tmp-" files Local writes before
// renaming; every allowed character is also safe in URLs and file names on
// every platform. A bad key is a programming error in the caller, so the
// error is a plain one, not an *imagegen.Error.
func validateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid key: empty")
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("invalid key %.40q...: longer than %d bytes", key, maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || !isAlnum(seg[0]) {
			return fmt.Errorf("invalid key %q: each slash-separated segment must start with a letter or digit", key)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return fmt.Errorf("invalid key %q: only letters, digits, '.', '_', '-' and '/' are allowed", key)
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// validateContentType insists on a well-formed media type: browsers and MCP
// clients rely on it to display the image, and a value with CR/LF would be a
// header injection.
func validateContentType(contentType string) error {
	if contentType == "" {
		return fmt.Errorf("empty content type")
	}
	if strings.ContainsAny(contentType, "\r\n") {
		return fmt.Errorf("invalid content type %q", contentType)
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return fmt.Errorf("invalid content type %q: %w", contentType, err)
	}
	return nil
}

// parseBaseURL checks that base is an absolute http(s) URL and returns it
// without trailing slashes, ready to have "/"+path appended.
func parseBaseURL(what, base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q: want an absolute http or https URL", what, base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%s %q: must not have user info, query or fragment", what, base)
	}
	return strings.TrimRight(base, "/"), nil
}

// joinURL appends key to base, escaping each path segment on its own so that
// the slashes in the key stay path separators.
func joinURL(base, key string) string {
	segs := strings.Split(strings.Trim(key, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(base, "/") + "/" + strings.Join(segs, "/")
}

// contentTypeByExt names the type of an image from its key's extension. It
// uses a fixed table instead of mime.TypeByExtension, whose answers depend on
// the machine's mime.types files. SVG is left out on purpose: served from our
// own origin it could run scripts.
func contentTypeByExt(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	case ".avif":
		return "image/avif"
	default:
		return "application/octet-stream"
	}
}
