package jobs

import (
	"testing"

	"github.com/imagegen/imagegen/workflows"
)

func TestMemoKeysAndURLsAreTrustedOnlyWhenTheyAreTheJobsOwn(t *testing.T) {
	const id = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	const other = "11111111-2222-4333-8444-555555555555"
	for _, tc := range []struct {
		name, key, thumb, url    string
		wantKey, wantThumb, want bool
	}{
		{"own image", "2026/11/25/" + id + ".png", "2026/11/25/" + id + ".thumb.jpg", "https://img.example/2026/11/25/" + id + ".png", true, true, true},
		{"own image over http", "2026/11/25/" + id + ".jpg", "", "http://127.0.0.1:8080/images/x.jpg", true, false, true},
		{"another job's image", "2026/11/25/" + other + ".png", "2026/11/25/" + other + ".thumb.jpg", "https://img.example/a.png", false, false, true},
		{"path traversal", "../../etc/passwd", "2026/11/25/" + id + "/../x.thumb.jpg", "file:///etc/passwd", false, false, false},
		{"index suffix on image 0", "2026/11/25/" + id + "-1.png", "2026/11/25/" + id + "-1.thumb.jpg", "javascript:alert(1)", false, false, false},
		{"thumbnail as image", "2026/11/25/" + id + ".thumb.jpg", "2026/11/25/" + id + ".png", "data:image/png;base64,AAAA", false, false, false},
		{"credentials in url", "", "", "https://user:pw@img.example/a.png", false, false, false},
		{"relative url", "", "", "/images/a.png", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := trustedResult(id, &workflows.Result{Key: tc.key, ThumbnailKey: tc.thumb, ImageURL: tc.url})
			if (got.Key != "") != tc.wantKey || (got.ThumbnailKey != "") != tc.wantThumb || (got.ImageURL != "") != tc.want {
				t.Errorf("kept key %q thumb %q url %q; want key %v thumb %v url %v", got.Key, got.ThumbnailKey, got.ImageURL, tc.wantKey, tc.wantThumb, tc.want)
			}
		})
	}
	// Images of a multi-image job: each must carry its own index.
	r := trustedResult(id, &workflows.Result{Images: []workflows.Image{
		{Key: "2026/11/25/" + id + ".png", URL: "https://a.example/0"},
		{Key: "2026/11/25/" + id + "-1.png", ThumbnailKey: "2026/11/25/" + id + "-1.thumb.jpg", URL: "https://a.example/1"},
		{Key: "2026/11/25/" + id + "-1.png", URL: "vbscript:x"},
	}})
	if r.Images[0].Key == "" || r.Images[1].Key == "" || r.Images[1].ThumbnailKey == "" {
		t.Errorf("own keys dropped: %+v", r.Images)
	}
	if r.Images[2].Key != "" || r.Images[2].URL != "" {
		t.Errorf("image 2 kept image 1's key or a vbscript URL: %+v", r.Images[2])
	}
}
