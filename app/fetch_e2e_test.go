package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// The worker's activities fetch URL inputs through the fetcher the
// configuration built: with IMAGEGEN_FETCH_ALLOW naming the test's image
// server, its image reaches the provider resized to the model's input side;
// another loopback address, which the list does not name, is refused at the
// dial, and the job's failure never repeats the URL's query string.
func TestURLInputsGoThroughTheConfiguredFetcher(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	for i := range src.Pix {
		src.Pix[i] = []byte{30, 140, 90, 255}[i%4]
	}
	var photo bytes.Buffer
	if err := png.Encode(&photo, src); err != nil {
		t.Fatal(err)
	}
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream") // sniffed, not trusted
		w.Write(photo.Bytes())
	}))
	defer images.Close()
	_, port, _ := net.SplitHostPort(images.Listener.Addr().String())

	fake := workersaitest.NewServer()
	defer fake.Close()
	cfg := devConfig(t.TempDir(), fake)
	cfg.FetchAllow = []string{"127.0.0.1/32"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &syncBuffer{}
	a, err := testkit.Dev(ctx, cfg, logging.New(logs, "json", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := newStreamableClient(t, a.MCPURL, testToken)

	const query = "?sig=SECRET-SIGNATURE-0042"
	res, out := callTool(t, c, "generate_image_and_wait", map[string]any{
		"prompt": "the same scene at night", "model": "flux-2-dev",
		"input_images": []string{images.URL + "/photo.png" + query},
	})
	if res.IsError || out["done"] != true {
		t.Fatalf("edit from an allowed URL: %+v", out)
	}
	var sent []byte
	for _, r := range fake.Requests() {
		if p, ok := r.Part("input_image_0"); ok && r.Model == "flux-2-dev" {
			sent = p.Data
		}
	}
	cfgSent, err := png.DecodeConfig(bytes.NewReader(sent))
	if err != nil || cfgSent.Width != 512 || cfgSent.Height != 384 {
		t.Fatalf("input_image_0 reached the provider as %d bytes (%v, %dx%d), want the 1600x1200 PNG at 512x384", len(sent), err, cfgSent.Width, cfgSent.Height)
	}
	if m, err := png.Decode(bytes.NewReader(sent)); err == nil {
		if got := color.RGBAModel.Convert(m.At(256, 192)).(color.RGBA); got != (color.RGBA{30, 140, 90, 255}) {
			t.Errorf("resized pixel = %v, want the source's colour", got)
		}
	}

	res, out = callTool(t, c, "generate_image_and_wait", map[string]any{
		"prompt": "the same scene at night", "model": "flux-2-dev",
		"input_images": []string{"http://127.0.0.2:" + port + "/photo.png" + query},
	})
	raw, _ := json.Marshal(out)
	msg, _ := out["message"].(string)
	if !res.IsError || !strings.Contains(msg, "127.0.0.2 is a loopback address") {
		t.Fatalf("edit from a loopback address outside the allow-list: %s", raw)
	}
	// Invalid input's advice, not a retry's: the refusal is final.
	if job, _ := out["job"].(map[string]any); job["status"] != "failed" || !strings.Contains(msg, imagegen.KindInvalidInput.Advice()) {
		t.Errorf("refused fetch: %s, want the job failed as invalid input", raw)
	}
	if strings.Contains(string(raw), "SECRET-SIGNATURE") || strings.Contains(logs.String(), "SECRET-SIGNATURE") {
		t.Errorf("the URL's query string reached the answer or the logs")
	}
}
