package workersai

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

func TestGenerateLeonardoModelsSendExactlyTheirSchemaFieldsAndDecodeTheirAnswer(t *testing.T) {
	jpg, pngData := providerkittest.JPEG(t, 64, 48), providerkittest.PNG(t, 48, 64)
	tests := []struct {
		name     string
		req      imagegen.Request
		answer   http.HandlerFunc
		wantPath string
		wantBody map[string]any
		wantType string
		wantData []byte
	}{
		{
			name: "phoenix takes every parameter and answers raw JPEG",
			req: imagegen.Request{Prompt: "a sign saying OPEN", Model: "leonardo-phoenix", NegativePrompt: "blurry",
				Width: 1024, Height: 768, Steps: 30, Guidance: ptr(3.5), Seed: ptr(int64(9))},
			answer:   providerkittest.Reply(http.StatusOK, "image/jpeg", jpg),
			wantPath: "/accounts/ACC/ai/run/@cf/leonardo/phoenix-1.0",
			wantBody: map[string]any{"prompt": "a sign saying OPEN", "negative_prompt": "blurry", "width": json.Number("1024"),
				"height": json.Number("768"), "num_steps": json.Number("30"), "guidance": json.Number("3.5"), "seed": json.Number("9")},
			wantType: "image/jpeg", wantData: jpg,
		},
		{
			name:     "phoenix with the prompt alone sends the prompt alone",
			req:      imagegen.Request{Prompt: "a fox", Model: "leonardo-phoenix"},
			answer:   providerkittest.Reply(http.StatusOK, "image/jpeg", jpg),
			wantPath: "/accounts/ACC/ai/run/@cf/leonardo/phoenix-1.0",
			wantBody: map[string]any{"prompt": "a fox"},
			wantType: "image/jpeg", wantData: jpg,
		},
		{
			name: "lucid origin sends num_steps and answers a base64 JPEG envelope",
			req: imagegen.Request{Prompt: "a poster", Model: "leonardo-lucid-origin", Width: 2500, Height: 1120,
				Steps: 20, Guidance: ptr(4.5), Seed: ptr(int64(0))},
			answer:   providerkittest.Reply(http.StatusOK, "application/json", successEnvelope(jpg)),
			wantPath: "/accounts/ACC/ai/run/@cf/leonardo/lucid-origin",
			wantBody: map[string]any{"prompt": "a poster", "width": json.Number("2500"), "height": json.Number("1120"),
				"num_steps": json.Number("20"), "guidance": json.Number("4.5"), "seed": json.Number("0")},
			wantType: "image/jpeg", wantData: jpg,
		},
		{
			name:     "lucid origin's base64 image is named by its bytes",
			req:      imagegen.Request{Prompt: "a poster", Model: "leonardo-lucid-origin"},
			answer:   providerkittest.Reply(http.StatusOK, "application/json", successEnvelope(pngData)),
			wantPath: "/accounts/ACC/ai/run/@cf/leonardo/lucid-origin",
			wantBody: map[string]any{"prompt": "a poster"},
			wantType: "image/png", wantData: pngData,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := recordingClient(t, tt.answer)
			img, err := c.Generate(context.Background(), tt.req, imagegen.Inputs{})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if img.ContentType != tt.wantType || !bytes.Equal(img.Data, tt.wantData) {
				t.Errorf("got %s with %d bytes, want %s with %d bytes", img.ContentType, len(img.Data), tt.wantType, len(tt.wantData))
			}
			got := rec.Last()
			if got.Path != tt.wantPath {
				t.Errorf("path = %s, want %s", got.Path, tt.wantPath)
			}
			if !maps.Equal(got.Body, tt.wantBody) {
				t.Errorf("body = %v, want exactly %v", got.Body, tt.wantBody)
			}
		})
	}
}

func TestGenerateRefusesParametersLucidOriginLacksWithoutCallingTheAPI(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the API was called for a request the model cannot take")
	}))
	_, err := c.Generate(context.Background(), imagegen.Request{Prompt: "x", Model: "leonardo-lucid-origin", NegativePrompt: "blur"}, imagegen.Inputs{})
	requireKind(t, err, imagegen.KindInvalidInput)
}
