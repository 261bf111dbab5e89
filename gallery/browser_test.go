package gallery_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/gallery"
	"github.com/imagegen/imagegen/jobs"
	"github.com/imagegen/imagegen/workflows"
)

// solidPNG is a small one-colour PNG. It is smaller than a grid cell on
// purpose: only the gallery's CSS (object-fit: cover in square cells) makes it
// fill the cell, so the pixel counts below also prove the stylesheet applied.
func solidPNG(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGalleryRendersImageGridInChromium serves the gallery and, from a second
// origin (as R2 would be), two solid-colour images, screenshots the page in
// headless Chromium and counts the images' colours in the screenshot: they
// appear only if the page's markup, stylesheet and Content-Security-Policy
// together let the browser draw the grid.
func TestGalleryRendersImageGridInChromium(t *testing.T) {
	chromium := findChromium(t)
	magenta := color.NRGBA{R: 255, G: 0, B: 255, A: 255}
	cyan := color.NRGBA{R: 0, G: 255, B: 255, A: 255}

	pngs := map[string][]byte{"/magenta.png": solidPNG(t, magenta), "/cyan.png": solidPNG(t, cyan)}
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := pngs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(b)
	}))
	defer images.Close()

	now := time.Now()
	var done []jobs.Job
	prompts := []string{
		"a magenta nebula over a quiet city", "a cyan lagoon at noon, aerial view",
		"magenta orchids in the rain", "an ice cave lit in cyan",
		"a neon magenta street at night", "cyan waves against black rocks",
		"a magenta sunset", "a cyan glacier",
	}
	for i, p := range prompts {
		u := images.URL + []string{"/magenta.png", "/cyan.png"}[i%2]
		j := jobs.Job{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Status: workflows.StatusCompleted,
			Prompt: p, Model: []string{"flux-schnell", "sdxl-lightning"}[i%2], ImageURL: u,
			CreatedAt: now.Add(-time.Duration(i*17+3) * time.Minute), UpdatedAt: now.Add(-time.Duration(i*17+2) * time.Minute),
			UIURL:  "http://127.0.0.1:8233/namespaces/default/workflows/x",
			Result: &workflows.Result{ImageURL: u, Placeholder: i == 2},
		}
		if i == 1 {
			j.Result.Images = []workflows.Image{{URL: u}, {URL: images.URL + "/magenta.png"}}
		}
		done = append(done, j)
	}
	lister := &fakeLister{jobs: map[workflows.Status][]jobs.Job{
		workflows.StatusCompleted:  done,
		workflows.StatusProcessing: {{ID: "p", Status: workflows.StatusProcessing, Stage: "generating", Prompt: "a lighthouse in a storm, oil painting", Model: "flux-schnell", CreatedAt: now.Add(-20 * time.Second)}},
		workflows.StatusFailed:     {{ID: "f", Status: workflows.StatusFailed, Prompt: "<script>alert(1)</script> a forbidden picture", Model: "flux-schnell", Error: "the provider refused the prompt (content policy)", CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour)}},
	}}
	site := httptest.NewServer(gallery.New(gallery.Options{Jobs: lister}))
	defer site.Close()

	shot := filepath.Join(t.ArtifactDir(), "gallery.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound on a hung browser, not an assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+t.TempDir(), "--window-size=1200,900",
		// Lets the page's network settle (images load) before the shot,
		// and stays under the page's 10 s refresh.
		"--virtual-time-budget=5000",
		"--screenshot="+shot, site.URL+"/")
	out, err := cmd.CombinedOutput()
	if _, statErr := os.Stat(shot); statErr != nil {
		t.Skipf("chromium could not start (%v): %s", err, tail(out, 800))
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	t.Logf("screenshot %s (%v); keep it with go test -artifacts", shot, img.Bounds().Size())
	nm, nc := countColour(img, magenta), countColour(img, cyan)
	// A 1200 px window fits four 270 px cells a row, and the first row sits in
	// the first 900 px: two cells of each colour, about 70,000 px per cell.
	// Unstyled 48 px images would give about 2,300 px each.
	const minPixels = 2 * 40000
	if nm < minPixels || nc < minPixels {
		t.Errorf("screenshot shows %d magenta and %d cyan pixels, want at least %d of each: the grid did not render its images", nm, nc, minPixels)
	}
}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser rendering test")
	return ""
}

// countColour counts pixels within a small tolerance of c, which absorbs the
// browser's colour management and scaling.
func countColour(img image.Image, c color.NRGBA) int {
	near := func(a uint32, b uint8) bool {
		d := int(a>>8) - int(b)
		return d > -12 && d < 12
	}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, c.R) && near(g, c.G) && near(bl, c.B) {
				n++
			}
		}
	}
	return n
}

func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
