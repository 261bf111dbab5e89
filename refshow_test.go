package imagegen

import (
	"strings"
	"testing"
)

func TestShowRefKeepsJobRefsAndDropsWhatMayHoldSecrets(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	long := "https://example.com/" + strings.Repeat("a", 300)
	tests := []struct {
		name, ref, want string
	}{
		{"a job reference is shown as given", "images://" + job, "images://" + job},
		{"a job reference with an index is shown as given", "images://" + job + "/2", "images://" + job + "/2"},
		{"a staged inline image is shown as given", "inline:sha256-" + strings.Repeat("ab", 32), "inline:sha256-" + strings.Repeat("ab", 32)},
		{"a plain URL is shown as given", "https://example.com/cat.png", "https://example.com/cat.png"},
		{"a presigned URL loses its signature", "https://bucket.s3.amazonaws.com/k/cat.png?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA", "https://bucket.s3.amazonaws.com/k/cat.png?…"},
		{"an API key in the query is dropped", "http://img.example.com:8080/a/b.jpg?api_key=s3cret", "http://img.example.com:8080/a/b.jpg?…"},
		{"user info is dropped", "https://user:hunter2@example.com/cat.png", "https://example.com/cat.png"},
		{"a fragment is dropped", "https://example.com/cat.png#token=s3cret", "https://example.com/cat.png"},
		{"the scheme is lower-cased", "HTTPS://example.com/cat.png", "https://example.com/cat.png"},
		{"an escaped path stays escaped", "https://example.com/a%20b/c%2Fd.png", "https://example.com/a%20b/c%2Fd.png"},
		{"an unreadable URL is not echoed", "https://exa mple.com/%zz?key=s3cret", "(unreadable URL)"},
		{"a URL without a host is not echoed", "https:///cat.png?key=s3cret", "(unreadable URL)"},
		{"a data URL shows its type, never its bytes", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "data:image/png,…"},
		{"a long reference is clipped", long, long[:maxShownRef-1] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ShowRef(tt.ref)
			if got != tt.want {
				t.Errorf("ShowRef(%q) = %q, want %q", tt.ref, got, tt.want)
			}
			for _, secret := range []string{"s3cret", "hunter2", "deadbeef", "AKIA", "iVBOR"} {
				if strings.Contains(got, secret) {
					t.Errorf("ShowRef(%q) = %q shows %q", tt.ref, got, secret)
				}
			}
		})
	}
	if ShowRefs(nil) != nil {
		t.Error("ShowRefs(nil) is not nil: a job without inputs would gain an empty list")
	}
}

func TestJobOfRefNamesTheSourceJobOfAJobReference(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	tests := []struct {
		name, ref string
		job       string
		index     int
		ok        bool
	}{
		{"image 0 by default", "images://" + job, job, 0, true},
		{"an explicit index", "images://" + job + "/3", job, 3, true},
		{"a URL is no job reference", "https://example.com/" + job, "", 0, false},
		{"an inline image is no job reference", "inline:sha256-00", "", 0, false},
		{"a job id that is not a UUID", "images://../../etc", "", 0, false},
		{"an empty index", "images://" + job + "/", "", 0, false},
		{"an index that is not a number", "images://" + job + "/x", "", 0, false},
		{"a path after the index", "images://" + job + "/1/2", "", 0, false},
		{"the scheme in capitals, as ParseRef reads it", "IMAGES://" + job + "/1", job, 1, true},
		{"an index with a leading zero, which ParseRef refuses", "images://" + job + "/01", "", 0, false},
		{"an index past ParseRef's bound", "images://" + job + "/100", "", 0, false},
		{"36 hex digits and dashes that are no UUID", "images://" + strings.Repeat("-", 36), "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, index, ok := JobOfRef(tt.ref)
			if job != tt.job || index != tt.index || ok != tt.ok {
				t.Errorf("JobOfRef(%q) = %q, %d, %v; want %q, %d, %v", tt.ref, job, index, ok, tt.job, tt.index, tt.ok)
			}
		})
	}
}
