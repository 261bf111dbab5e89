package imagefetch

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/imagegen/imagegen"
)

func TestParseDataURL(t *testing.T) {
	img := pngBytes(t, 8, 8)
	b64 := base64.StdEncoding.EncodeToString(img)
	jpg := []byte("\xFF\xD8\xFF\xE0 a JPEG, as far as sniffing goes")
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := ""
	for s := b64; s != ""; {
		n := min(len(s), 76)
		wrapped, s = wrapped+s[:n]+"\r\n", s[n:]
	}
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []byte
		kind string
		says string // refusal
	}{
		{name: "a PNG", in: "data:image/png;base64," + b64, want: img, kind: "image/png"},
		{name: "the scheme and type in any case", in: "DATA:Image/PNG;BASE64," + b64, want: img, kind: "image/png"},
		{name: "a JPEG", in: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpg), want: jpg, kind: "image/jpeg"},
		{name: "image/jpg for a JPEG", in: "data:image/jpg;base64," + base64.StdEncoding.EncodeToString(jpg), want: jpg, kind: "image/jpeg"},
		{name: "a WebP", in: "data:image/webp;base64," + base64.StdEncoding.EncodeToString(webp), want: webp, kind: "image/webp"},
		{name: "parameters before base64", in: "data:image/png;name=cat.png;base64," + b64, want: img, kind: "image/png"},
		{name: "no padding", in: "data:image/png;base64," + strings.TrimRight(b64, "="), want: img, kind: "image/png"},
		{name: "the URL-safe alphabet", in: "data:image/png;base64," + base64.URLEncoding.EncodeToString(img), want: img, kind: "image/png"},
		{name: "line breaks", in: "data:image/png;base64," + wrapped, want: img, kind: "image/png"},
		{name: "percent-encoded", in: "data:image/png;base64," + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(b64), want: img, kind: "image/png"},
		{name: "the type comes from the bytes", in: "data:image/jpeg;base64," + b64, want: img, kind: "image/png"},
		{name: "exactly the cap", in: "data:image/png;base64," + b64, max: len(img), want: img, kind: "image/png"},

		{name: "one byte over the cap", in: "data:image/png;base64," + b64, max: len(img) - 1, says: "larger than the limit of"},
		{name: "far over the cap, refused before decoding", in: "data:image/png;base64," + strings.Repeat("A", 1<<20), max: 1024, says: "larger than the limit of 1 KiB"},
		{name: "not a data URL", in: "https://example.com/x.png", says: "not a data: URL"},
		{name: "no comma", in: "data:image/png;base64", says: "no comma"},
		{name: "no media type", in: "data:;base64," + b64, says: "names no media type"},
		{name: "a non-image media type", in: "data:text/html;base64,PGh0bWw+", says: `"text/html"`},
		{name: "svg is not accepted", in: "data:image/svg+xml;base64,PHN2Zz4=", says: `"image/svg+xml"`},
		{name: "not base64", in: "data:image/png,%89PNG", says: "not base64"},
		{name: "broken base64", in: "data:image/png;base64,iVBORw0K!!!!", says: "not valid base64"},
		{name: "empty", in: "data:image/png;base64,", says: "empty"},
		{name: "bytes that are no image", in: "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("<html>hello</html>")), says: "not a PNG, JPEG or WebP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, kind, err := ParseDataURL(tc.in, tc.max)
			if tc.says != "" {
				var ie *imagegen.Error
				if err == nil || !strings.Contains(err.Error(), tc.says) || !errors.As(err, &ie) || ie.Kind != imagegen.KindInvalidInput {
					t.Fatalf("ParseDataURL = %v, want invalid input saying %q", err, tc.says)
				}
				if len(err.Error()) > 200 {
					t.Errorf("the message quotes the data: %d characters", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDataURL: %v", err)
			}
			if kind != tc.kind || !bytes.Equal(data, tc.want) {
				t.Fatalf("ParseDataURL = %d bytes of %q, want %d bytes of %q", len(data), kind, len(tc.want), tc.kind)
			}
		})
	}
}

func TestIsDataURL(t *testing.T) {
	for in, want := range map[string]bool{"data:image/png;base64,": true, "DATA:x": true, "data": false, "https://x": false, "images://j": false, "": false} {
		if got := IsDataURL(in); got != want {
			t.Errorf("IsDataURL(%q) = %v, want %v", in, got, want)
		}
	}
}

// Whatever the input, ParseDataURL answers with bytes of a sniffed image
// type within the cap, or an invalid-input error; it never panics.
func FuzzParseDataURL(f *testing.F) {
	f.Add("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes(f, 2, 2)))
	f.Add("data:image/jpeg;base64,/9j/4AAQ")
	f.Add("data:;base64,")
	f.Add("data:image/webp;name=a;base64,UklGRgAAAABXRUJQ")
	f.Add("data:image/png;base64,%zz")
	f.Fuzz(func(t *testing.T, s string) {
		const max = 4096
		data, kind, err := ParseDataURL(s, max)
		if err != nil {
			if imagegen.KindOf(err) != imagegen.KindInvalidInput {
				t.Fatalf("error of kind %q: %v", imagegen.KindOf(err), err)
			}
			return
		}
		if len(data) > max || len(data) == 0 || kind == "" || imagegen.SniffImageType(data) != kind {
			t.Fatalf("accepted %d bytes of %q (sniffed %q)", len(data), kind, imagegen.SniffImageType(data))
		}
	})
}
