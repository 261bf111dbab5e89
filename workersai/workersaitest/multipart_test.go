package workersaitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/providerkit/providerkittest"
)

// formPart is one part a test puts into a multipart body.
type formPart struct {
	name, fileName, contentType string
	data                        []byte
}

func textPart(name, value string) formPart { return formPart{name: name, data: []byte(value)} }

func filePart(name, fileName, contentType string, data []byte) formPart {
	return formPart{name: name, fileName: fileName, contentType: contentType, data: data}
}

// multipartBody encodes parts as multipart/form-data, exactly as given.
func multipartBody(t *testing.T, parts ...formPart) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf("form-data; name=%q", p.name)
		if p.fileName != "" {
			disp += fmt.Sprintf("; filename=%q", p.fileName)
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// postBody sends a body with a Content-Type to the fake and decodes the envelope.
func postBody(t *testing.T, f *Server, model, contentType string, body []byte) (int, string, envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/accounts/"+f.AccountID+"/ai/run/"+model, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.APIToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var env envelope
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatalf("decoding envelope: %v", err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), env
}

// postForm sends parts as a multipart body.
func postForm(t *testing.T, f *Server, model string, parts ...formPart) (int, string, envelope) {
	t.Helper()
	ct, body := multipartBody(t, parts...)
	return postBody(t, f, model, ct, body)
}

func TestServerSpeaksTheFlux2MultipartWireExactly(t *testing.T) {
	f, _ := newFake(t)
	const dev, klein = "@cf/black-forest-labs/flux-2-dev", "@cf/black-forest-labs/flux-2-klein-4b"
	png512, png513, jpg := providerkittest.PNG(t, 512, 384), providerkittest.PNG(t, 513, 64), providerkittest.JPEG(t, 64, 64)
	prompt := textPart("prompt", "a red fox")
	tests := []struct {
		name        string
		model       string
		contentType string // "" means: encode parts as multipart
		body        string
		parts       []formPart
		wantStatus  int
		wantInMsg   string
	}{
		{name: "bare prompt", model: klein, parts: []formPart{prompt}, wantStatus: 200},
		{name: "every dev field", model: dev, parts: []formPart{prompt, textPart("steps", "50"), textPart("width", "1920"),
			textPart("height", "256"), textPart("guidance", "4.5"), textPart("seed", "0"),
			filePart("input_image_0", "a.png", "image/png", png512), filePart("input_image_1", "b.jpg", "image/jpeg", jpg),
			filePart("input_image_2", "c.png", "image/png", png512), filePart("input_image_3", "d.jpg", "image/jpeg", jpg)}, wantStatus: 200},
		{name: "a JSON body is refused as the real API does", model: klein, contentType: "application/json",
			body: `{"prompt":"a red fox"}`, wantStatus: 400, wantInMsg: "required properties at '/' are 'multipart'"},
		{name: "a JSON body without a Content-Type too", model: dev, contentType: "-", body: `{"prompt":"x"}`,
			wantStatus: 400, wantInMsg: "'multipart'"},
		{name: "multipart without a boundary", model: dev, contentType: "multipart/form-data", body: "prompt=x",
			wantStatus: 400, wantInMsg: "no boundary"},
		{name: "klein takes no steps", model: klein, parts: []formPart{prompt, textPart("steps", "4")},
			wantStatus: 400, wantInMsg: "additional properties: 'steps'"},
		{name: "unknown field", model: dev, parts: []formPart{prompt, textPart("negative_prompt", "blur")},
			wantStatus: 400, wantInMsg: "additional properties: 'negative_prompt'"},
		{name: "a fifth input image", model: dev, parts: []formPart{prompt, filePart("input_image_4", "e.png", "image/png", png512)},
			wantStatus: 400, wantInMsg: "'input_image_4'"},
		{name: "missing prompt", model: dev, parts: []formPart{textPart("width", "512")},
			wantStatus: 400, wantInMsg: "'prompt'"},
		{name: "prompt sent as a file", model: dev, parts: []formPart{filePart("prompt", "p.txt", "text/plain", []byte("x"))},
			wantStatus: 400, wantInMsg: "not a file"},
		{name: "width not an integer", model: dev, parts: []formPart{prompt, textPart("width", "512.5")},
			wantStatus: 400, wantInMsg: "'/width' must be integer"},
		{name: "width out of range", model: klein, parts: []formPart{prompt, textPart("width", "1921")},
			wantStatus: 400, wantInMsg: "<= 1920"},
		{name: "guidance not a number", model: dev, parts: []formPart{prompt, textPart("guidance", "high")},
			wantStatus: 400, wantInMsg: "'/guidance' must be number"},
		{name: "seed not an integer", model: dev, parts: []formPart{prompt, textPart("seed", "1e3")},
			wantStatus: 400, wantInMsg: "'/seed' must be integer"},
		{name: "a field twice", model: dev, parts: []formPart{prompt, textPart("prompt", "again")},
			wantStatus: 400, wantInMsg: "more than once"},
		{name: "input image as a text field", model: dev, parts: []formPart{prompt, textPart("input_image_0", string(png512))},
			wantStatus: 400, wantInMsg: "binary image part"},
		{name: "input image that is not an image", model: dev, parts: []formPart{prompt, filePart("input_image_0", "a.png", "image/png", []byte("hello"))},
			wantStatus: 400, wantInMsg: "not an image"},
		{name: "input image with the wrong Content-Type", model: dev, parts: []formPart{prompt, filePart("input_image_0", "a.png", "image/png", jpg)},
			wantStatus: 400, wantInMsg: "holds image/jpeg"},
		{name: "input image over 512 pixels", model: dev, parts: []formPart{prompt, filePart("input_image_0", "a.png", "image/png", png513)},
			wantStatus: 400, wantInMsg: "513x64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			var env envelope
			switch tt.contentType {
			case "":
				status, _, env = postForm(t, f, tt.model, tt.parts...)
			case "-":
				status, _, env = postBody(t, f, tt.model, "", []byte(tt.body))
			default:
				status, _, env = postBody(t, f, tt.model, tt.contentType, []byte(tt.body))
			}
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d (errors %+v)", status, tt.wantStatus, env.Errors)
			}
			if tt.wantStatus == 200 {
				if env.Success == nil || !*env.Success {
					t.Errorf("envelope %+v, want success:true", env)
				}
				return
			}
			if len(env.Errors) != 1 || env.Errors[0].Code != 5006 || env.Success == nil || *env.Success {
				t.Fatalf("envelope %+v, want success:false with code 5006", env)
			}
			if msg := env.Errors[0].Message; !strings.HasPrefix(msg, "AiError: Bad input: ") || !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("message %q, want it to start with AiError: Bad input: and say %q", msg, tt.wantInMsg)
			}
		})
	}
}

func TestServerRecordsEachMultipartPart(t *testing.T) {
	f, _ := newFake(t)
	png := providerkittest.PNG(t, 32, 32)
	status, _, env := postForm(t, f, "@cf/black-forest-labs/flux-2-klein-9b", textPart("prompt", "a fox"), textPart("width", "768"),
		filePart("input_image_0", "in.png", "image/png", png))
	if status != 200 {
		t.Fatalf("status %d: %+v", status, env.Errors)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Model != "flux-2-klein-9b" || r.ContentType != "multipart/form-data" || !strings.Contains(r.Header.Get("Content-Type"), "boundary=") {
		t.Errorf("recorded model %q content type %q header %q", r.Model, r.ContentType, r.Header.Get("Content-Type"))
	}
	if r.Body["prompt"] != "a fox" || r.Body["width"] != json.Number("768") || len(r.Body) != 2 {
		t.Errorf("text fields %v, want prompt and width only", r.Body)
	}
	if len(r.Parts) != 3 || r.Parts[0].Name != "prompt" || r.Parts[1].Name != "width" {
		t.Fatalf("parts %+v, want prompt, width, input_image_0 in order", r.Parts)
	}
	img, ok := r.Part("input_image_0")
	if !ok || img.FileName != "in.png" || img.ContentType != "image/png" || !bytes.Equal(img.Data, png) {
		t.Errorf("input_image_0 = %q %q %d bytes (found %v), want in.png image/png with the bytes sent", img.FileName, img.ContentType, len(img.Data), ok)
	}
	if _, ok := r.Part("steps"); ok {
		t.Error("Part found a part that was never sent")
	}
	if n := f.CallsForPrompt("a fox"); n != 1 {
		t.Errorf("CallsForPrompt of a multipart prompt = %d, want 1", n)
	}
}

func TestServerAppliesTheSDXLImageToImageSchema(t *testing.T) {
	f, _ := newFake(t)
	png := providerkittest.PNG(t, 16, 16)
	asArray := func(b []byte) string {
		parts := make([]string, len(b))
		for i, x := range b {
			parts[i] = fmt.Sprint(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	b64 := func(b []byte) string { j, _ := json.Marshal(b); return string(j) } // []byte marshals as base64
	const sdxl = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
	tests := []struct {
		name, model, body string
		wantStatus        int
		wantInMsg         string
	}{
		{"image_b64 and strength", sdxl, `{"prompt":"x","image_b64":` + b64(png) + `,"strength":0.4}`, 200, ""},
		{"image as an array of bytes", sdxl, `{"prompt":"x","image":` + asArray(png) + `}`, 200, ""},
		{"image and mask", "@cf/bytedance/stable-diffusion-xl-lightning", `{"prompt":"x","image_b64":` + b64(png) + `,"mask":` + asArray(png) + `}`, 200, ""},
		{"image_b64 not base64", sdxl, `{"prompt":"x","image_b64":"***"}`, 400, "not base64"},
		{"image_b64 of text", sdxl, `{"prompt":"x","image_b64":` + b64([]byte("hello")) + `}`, 400, "not an image"},
		{"image_b64 a number", sdxl, `{"prompt":"x","image_b64":5}`, 400, "must be string"},
		{"mask as base64", sdxl, `{"prompt":"x","mask":` + b64(png) + `}`, 400, "'/mask' must be array"},
		{"mask byte over 255", sdxl, `{"prompt":"x","mask":[256]}`, 400, "'/mask/0'"},
		{"mask of bytes that are no image", sdxl, `{"prompt":"x","mask":[1,2,3]}`, 400, "not image data"},
		{"strength over 1", sdxl, `{"prompt":"x","strength":1.5}`, 400, "'/strength' must be >= 0 and <= 1"},
		{"strength a string", sdxl, `{"prompt":"x","strength":"0.5"}`, 400, "'/strength' must be number"},
		{"phoenix has no img2img: extra fields pass as the schema is not strict", "@cf/leonardo/phoenix-1.0", `{"prompt":"x","strength":7}`, 200, ""},
		{"multipart to a JSON model", sdxl, "", 400, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			var env envelope
			if tt.body == "" {
				status, _, env = postForm(t, f, tt.model, textPart("prompt", "x"))
			} else {
				status, _, env = postBody(t, f, tt.model, "application/json", []byte(tt.body))
			}
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d (errors %+v)", status, tt.wantStatus, env.Errors)
			}
			if tt.wantStatus != 200 && (len(env.Errors) != 1 || env.Errors[0].Code != 5006 || !strings.Contains(env.Errors[0].Message, tt.wantInMsg)) {
				t.Errorf("errors %+v, want 5006 saying %q", env.Errors, tt.wantInMsg)
			}
		})
	}
}
