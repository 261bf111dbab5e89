package jobs

import (
	"net/url"
	"regexp"
	"strconv"

	"github.com/imagegen/imagegen/workflows"
)

// The memo is written by the workflow, but anyone who can reach Temporal
// can write one too (a forged "completed" job). Nothing in it is trusted for
// reading storage or for links handed to clients:
//   - a storage key must be the job's own: "{yyyy}/{mm}/{dd}/{job id}[-i].ext"
//     (activities.ImageKey) or its thumbnail (".thumb.jpg"), so a forged job
//     cannot make resources/read return another job's image;
//   - a URL must be absolute http or https, so no javascript:, data: or
//     file: link reaches an assistant, a gallery or a terminal.
//
// Fields failing a check are dropped, never repaired.

var keyShape = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2}/([0-9a-f-]{36})(?:-([0-9]+))?(\.thumb\.jpg|\.[a-z0-9]{2,5})$`)

// ownKey reports whether key names image index of job id (or, with thumb,
// that image's thumbnail).
func ownKey(key, id string, index int, thumb bool) bool {
	m := keyShape.FindStringSubmatch(key)
	if m == nil || m[1] != id {
		return false
	}
	if (m[3] == ".thumb.jpg") != thumb {
		return false
	}
	if index == 0 {
		return m[2] == ""
	}
	return m[2] == strconv.Itoa(index)
}

// SafeURL reports whether u is an absolute http or https URL.
func SafeURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" && p.User == nil
}

// trustedResult returns a copy of r with every key that is not the job's own
// and every URL that is not http(s) removed.
func trustedResult(id string, r *workflows.Result) *workflows.Result {
	if r == nil {
		return nil
	}
	out := *r
	if !ownKey(out.Key, id, 0, false) {
		out.Key = ""
	}
	if !ownKey(out.ThumbnailKey, id, 0, true) {
		out.ThumbnailKey = ""
	}
	if !SafeURL(out.ImageURL) {
		out.ImageURL = ""
	}
	if len(r.Images) > 0 {
		out.Images = make([]workflows.Image, len(r.Images))
		for i, img := range r.Images {
			if !ownKey(img.Key, id, i, false) {
				img.Key = ""
			}
			if !ownKey(img.ThumbnailKey, id, i, true) {
				img.ThumbnailKey = ""
			}
			if !SafeURL(img.URL) {
				img.URL = ""
			}
			out.Images[i] = img
		}
	}
	return &out
}
