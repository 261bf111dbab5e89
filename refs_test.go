package imagegen

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestParseRefAcceptsTheThreeFormsInCanonicalSpelling(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	sum := sha256.Sum256([]byte("an image"))
	inline := InlineRef(sum)
	for _, tc := range []struct {
		in        string
		kind      RefKind
		canonical string
	}{
		{"images://" + job, RefJob, "images://" + job},
		{"images://" + job + "/0", RefJob, "images://" + job},
		{"images://" + job + "/3", RefJob, "images://" + job + "/3"},
		{"IMAGES://" + job + "/2", RefJob, "images://" + job + "/2"},
		{"https://example.com/cat.png?size=large", RefURL, "https://example.com/cat.png?size=large"},
		{"http://127.0.0.1:8080/a.jpg", RefURL, "http://127.0.0.1:8080/a.jpg"},
		{inline, RefInline, inline},
	} {
		r, err := ParseRef("input_images[0]", tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if r.Kind != tc.kind || r.String() != tc.canonical {
			t.Errorf("ParseRef(%q) = kind %d %q, want kind %d %q", tc.in, r.Kind, r.String(), tc.kind, tc.canonical)
		}
	}
	r, _ := ParseRef("x", "images://"+job+"/3")
	if r.JobID != job || r.Index != 3 {
		t.Errorf("job ref parsed as %+v", r)
	}
	r, _ = ParseRef("x", inline)
	if r.InlineKey() != "inputs/inline/sha256-"+strings.TrimPrefix(inline, "inline:sha256-") {
		t.Errorf("inline key %q", r.InlineKey())
	}
}

func TestParseRefRefusesMalformedReferencesNamingTheArgument(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	for _, tc := range []struct{ in, says string }{
		{"", "empty reference"},
		{"images://", "does not name a job"},
		{"images://not-a-job", "does not name a job"},
		{"images://" + strings.ToUpper(job), "does not name a job"},
		{"images://" + job + "/", "image index"},
		{"images://" + job + "/01", "image index"},
		{"images://" + job + "/-1", "image index"},
		{"images://" + job + "/100", "image index"},
		{"images://" + job + "/0/1", "image index"},
		{"images://../../etc/passwd", "does not name a job"},
		{"ftp://example.com/a.png", "is not a reference image"},
		{"file:///etc/passwd", "is not a reference image"},
		{"/tmp/a.png", "is not a reference image"},
		{"https://", "not a valid http(s) URL"},
		{"https://user:pw@example.com/a.png", "user name or password"},
		{"https://example.com/a b.png", "spaces or control characters"},
		{"https://example.com/a\nb.png", "spaces or control characters"},
		{"https://example.com/" + strings.Repeat("a", MaxRefURLLength), "limit is 2048"},
		{"inline:sha256-abc", "not an inline image reference"},
		{"inline:sha256-" + strings.Repeat("A", 64), "not an inline image reference"},
		{"inline:md5-" + strings.Repeat("a", 32), "not an inline image reference"},
		{"data:image/png;base64,iVBORw0KGgo=", "data: URLs are taken only as tool arguments"},
	} {
		_, err := ParseRef("input_images[1]", tc.in)
		if err == nil {
			t.Errorf("ParseRef(%q) accepted it", tc.in)
			continue
		}
		if KindOf(err) != KindInvalidInput || !strings.HasPrefix(err.(*Error).Message, "input_images[1]: ") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseRef(%q) = %v, want invalid_input naming input_images[1] and saying %q", tc.in, err, tc.says)
		}
	}
}

// FuzzParseRef: any string either is refused with an invalid_input error or
// parses to a reference whose canonical spelling parses back to itself.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"images://3f2c9a1e-8b7d-4c6e-9f01-23456789abcd/3", "https://example.com/a.png?x=1",
		"inline:sha256-" + strings.Repeat("ab", 32), "data:image/png;base64,AAAA", "http://[::1]:80/", "images://x/../../", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef("x", s)
		if err != nil {
			if KindOf(err) != KindInvalidInput {
				t.Fatalf("ParseRef(%q) error %v is not invalid_input", s, err)
			}
			return
		}
		again, err := ParseRef("x", r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %+v, whose spelling %q parses to %+v, %v", s, r, r.String(), again, err)
		}
		if r.Kind == RefInline && !strings.HasPrefix(r.InlineKey(), "inputs/inline/sha256-") {
			t.Fatalf("inline key %q", r.InlineKey())
		}
	})
}

func TestParseJobRefTakesOnlyJobReferencesWithParseRefsRules(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	for _, tc := range []struct {
		name, in string
		index    int
		says     string // "" when accepted
	}{
		{"a job's first image", "images://" + job, 0, ""},
		{"an explicit index 0 names the first image", "images://" + job + "/0", 0, ""},
		{"an index past a job's usual image count is for the job to refuse", "images://" + job + "/4", 4, ""},
		{"the largest index", "images://" + job + "/99", 99, ""},
		{"the scheme in capitals, as ParseRef reads it", "IMAGES://" + job + "/2", 2, ""},
		{"an index past the bound", "images://" + job + "/100", 0, "image index must be a number from 0"},
		{"a leading zero", "images://" + job + "/01", 0, "image index must be a number from 0"},
		{"a plus sign", "images://" + job + "/+1", 0, "image index must be a number from 0"},
		{"a trailing slash", "images://" + job + "/", 0, "image index must be a number from 0"},
		{"a path after the index", "images://" + job + "/1/2", 0, "image index must be a number from 0"},
		{"a job id in capitals", "images://" + strings.ToUpper(job), 0, "does not name a job"},
		{"36 dashes are no UUID", "images://" + strings.Repeat("-", 36), 0, "does not name a job"},
		{"a path-like job id", "images://../../etc/passwd", 0, "does not name a job"},
		{"a NUL after the index", "images://" + job + "/1\x00", 0, "control characters"},
		{"an http URL is no job reference", "https://example.com/" + job, 0, "is not an image reference: use images://JOB_ID"},
		{"an inline image is no job reference", "inline:sha256-" + strings.Repeat("ab", 32), 0, "is not an image reference: use images://JOB_ID"},
		{"another scheme", "image://" + job, 0, "is not an image reference: use images://JOB_ID"},
		{"nothing", "", 0, "is not an image reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJobRef("resource URI", tc.in)
			if tc.says == "" {
				if err != nil || r.Kind != RefJob || r.JobID != job || r.Index != tc.index {
					t.Fatalf("ParseJobRef(%q) = %+v, %v; want job %s image %d", tc.in, r, err, job, tc.index)
				}
				if got := JobRef(r.JobID, r.Index); got != r.String() {
					t.Errorf("JobRef(%q, %d) = %q, want the canonical %q", r.JobID, r.Index, got, r.String())
				}
				if id, index, ok := JobOfRef(tc.in); !ok || id != job || index != tc.index {
					t.Errorf("JobOfRef(%q) = %q, %d, %v: it disagrees with ParseJobRef", tc.in, id, index, ok)
				}
				return
			}
			if err == nil || KindOf(err) != KindInvalidInput || !strings.HasPrefix(err.(*Error).Message, "resource URI: ") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("ParseJobRef(%q) = %+v, %v; want invalid_input naming the resource URI and saying %q", tc.in, r, err, tc.says)
			}
			if id, index, ok := JobOfRef(tc.in); ok {
				t.Errorf("JobOfRef(%q) = %q, %d: it takes what ParseJobRef refuses", tc.in, id, index)
			}
			if _, err := ParseRef("x", tc.in); err == nil && strings.HasPrefix(strings.ToLower(tc.in), "images://") {
				t.Errorf("ParseRef(%q) takes the job reference ParseJobRef refuses", tc.in)
			}
		})
	}
}

func TestJobRefSpellsTheFirstImageWithoutAnIndex(t *testing.T) {
	const job = "3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
	for index, want := range []string{"images://" + job, "images://" + job + "/1", "images://" + job + "/2"} {
		if got := JobRef(job, index); got != want {
			t.Errorf("JobRef(%q, %d) = %q, want %q", job, index, got, want)
		}
	}
}
