package workersaitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"strconv"
	"unicode/utf8"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
	"github.com/imagegen/imagegen/workersai"
)

// body is a request body decoded without any model's schema: enough to read
// the prompt before scripted failures, then checked by checkBody.
type body struct {
	mediaType string
	json      map[string]any // a JSON body, numbers as json.Number
	jsonErr   error
	parts     []Part // a multipart/form-data body
	formErr   error
}

// decodeBody reads a body as multipart form data when its Content-Type says
// so, as JSON otherwise (the API reads a JSON body whatever its header says).
func decodeBody(contentType string, raw []byte) body {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err == nil && mediaType == "multipart/form-data" {
		b := body{mediaType: mediaType}
		b.parts, b.formErr = readParts(raw, params["boundary"])
		return b
	}
	b := body{mediaType: "application/json"}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	b.jsonErr = dec.Decode(&b.json)
	if b.jsonErr == nil && b.json == nil {
		b.jsonErr = fmt.Errorf("null")
	}
	return b
}

func readParts(raw []byte, boundary string) ([]Part, error) {
	if boundary == "" {
		// What a client hard-coding "multipart/form-data" sends: the API
		// cannot find the fields (cloudflare-docs PR 27944).
		return nil, fmt.Errorf("the Content-Type has no boundary")
	}
	r := multipart.NewReader(bytes.NewReader(raw), boundary)
	var parts []Part
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, Part{Name: p.FormName(), FileName: p.FileName(), ContentType: p.Header.Get("Content-Type"), Data: data})
	}
}

// prompt is the body's prompt, or "" if it has none.
func (b body) prompt() string {
	for _, p := range b.parts {
		if p.Name == "prompt" && p.FileName == "" {
			return string(p.Data)
		}
	}
	s, _ := b.json["prompt"].(string)
	return s
}

// rule is one property of a model's input schema.
type rule struct {
	kind     string // "int", "number", "string", "image" (base64 string), "bytes" (array of 0-255), "file" (binary part)
	min, max float64
}

// rules is the model's input schema: the wire mapping's properties with the
// bounds of the model's row (the row is no looser than the schema anywhere:
// where they differ, as for the Leonardo models' smallest side, the row is
// stricter, and the client never sends what the row refuses).
func rules(m imagegen.Model, wire workersai.Wire) map[string]rule {
	rs := map[string]rule{"prompt": {kind: "string"}}
	add := func(field string, rl rule) {
		if field != "" {
			rs[field] = rl
		}
	}
	add(wire.Steps, rule{"int", 1, float64(m.MaxSteps)})
	add(wire.NegativePrompt, rule{kind: "string"})
	add(wire.Width, rule{"int", float64(m.MinSide), float64(m.MaxSide)})
	add(wire.Height, rule{"int", float64(m.MinSide), float64(m.MaxSide)})
	add(wire.Guidance, rule{"number", m.MinGuidance, m.MaxGuidance})
	// No schema bounds the seed; the client sends any int64 from 0 up.
	add(wire.Seed, rule{kind: "int", max: math.MaxInt64})
	add(wire.Strength, rule{"number", 0, 1})
	add(wire.Image, rule{kind: "image"})
	add(wire.Mask, rule{kind: "bytes"})
	if wire.Image != "" {
		// SDXL's schema also takes the input image as an array of bytes;
		// the client sends image_b64 instead.
		rs["image"] = rule{kind: "bytes"}
	}
	if wire.InputPart != "" {
		for i := range m.MaxInputs {
			rs[wire.InputPart+strconv.Itoa(i)] = rule{kind: "file", max: float64(m.InputSide)}
		}
	}
	return rs
}

// checkBody applies the model's input schema as Workers AI does and returns
// the decoded fields, or a message naming the offending property.
func checkBody(b body, m imagegen.Model, wire workersai.Wire) (map[string]any, string) {
	if wire.Multipart {
		if b.mediaType != "multipart/form-data" {
			// The real answer to a JSON body (HTTP 400, code 5006), as
			// reported from live calls (freellmapi issue 714, 2026-08).
			return nil, "Error: required properties at '/' are 'multipart'"
		}
		if b.formErr != nil {
			return nil, "Error: the multipart body does not parse: " + b.formErr.Error()
		}
		return checkForm(b.parts, m, wire)
	}
	if b.mediaType == "multipart/form-data" || b.jsonErr != nil {
		msg := "the body is not a JSON object"
		if b.jsonErr != nil {
			msg += ": " + b.jsonErr.Error()
		}
		return nil, msg
	}
	return checkJSON(b.json, m, wire)
}

func checkPrompt(prompt string, ok bool) string {
	if !ok {
		return "required properties at '/' are 'prompt'"
	}
	if n := utf8.RuneCountInString(prompt); n < 1 || n > imagegen.MaxPromptLength {
		return fmt.Sprintf("'/prompt' must NOT have fewer than 1 or more than %d characters", imagegen.MaxPromptLength)
	}
	return ""
}

func checkJSON(body map[string]any, m imagegen.Model, wire workersai.Wire) (map[string]any, string) {
	prompt, ok := body["prompt"].(string)
	if problem := checkPrompt(prompt, ok); problem != "" {
		return nil, problem
	}
	rs := rules(m, wire)
	for field, v := range body {
		rl, known := rs[field]
		if !known || rl.kind == "file" {
			if wire.Strict {
				return nil, fmt.Sprintf("must NOT have additional properties: '%s'", field)
			}
			continue
		}
		switch rl.kind {
		case "string":
			if _, ok := v.(string); !ok {
				return nil, fmt.Sprintf("'/%s' must be string", field)
			}
		case "int", "number":
			n, ok := v.(json.Number)
			if !ok {
				return nil, fmt.Sprintf("'/%s' must be %s", field, rl.kind)
			}
			if problem := checkNumber(field, n.String(), rl); problem != "" {
				return nil, problem
			}
		case "image":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Sprintf("'/%s' must be string", field)
			}
			data, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Sprintf("'/%s' is not base64: %v", field, err)
			}
			if _, err := providerkit.CheckImage(data); err != nil {
				return nil, fmt.Sprintf("'/%s' is not an image: %v", field, err)
			}
		case "bytes":
			arr, ok := v.([]any)
			if !ok {
				return nil, fmt.Sprintf("'/%s' must be array", field)
			}
			data := make([]byte, len(arr))
			for i, item := range arr {
				n, ok := item.(json.Number)
				if !ok {
					return nil, fmt.Sprintf("'/%s/%d' must be number", field, i)
				}
				x, err := strconv.Atoi(n.String())
				if err != nil || x < 0 || x > 255 {
					return nil, fmt.Sprintf("'/%s/%d' must be a value between 0 and 255", field, i)
				}
				data[i] = byte(x)
			}
			if _, err := providerkit.CheckImage(data); err != nil {
				return nil, fmt.Sprintf("'/%s' is not image data: %v", field, err)
			}
		}
	}
	return body, ""
}

// checkNumber checks a number spelled as in JSON or a form field against a rule.
func checkNumber(field, s string, rl rule) string {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Sprintf("'/%s' must be %s", field, rl.kind)
	}
	if _, err := strconv.ParseInt(s, 10, 64); rl.kind == "int" && err != nil {
		return fmt.Sprintf("'/%s' must be integer", field)
	}
	if !(x >= rl.min && x <= rl.max) {
		return fmt.Sprintf("'/%s' must be >= %g and <= %g", field, rl.min, rl.max)
	}
	return ""
}

// checkForm applies the schema to a multipart body: each field at most
// once, text fields as text parts whose values parse as their type, input
// images as binary parts (with a file name, as curl -F name=@file and a
// FormData Blob send them) holding a PNG, JPEG or WebP image of the
// documented size ("all input images must be smaller than 512x512") with
// a matching Content-Type.
func checkForm(parts []Part, m imagegen.Model, wire workersai.Wire) (map[string]any, string) {
	rs := rules(m, wire)
	fields := map[string]any{}
	seen := map[string]bool{}
	for _, p := range parts {
		if seen[p.Name] {
			return nil, fmt.Sprintf("'/%s' is given more than once", p.Name)
		}
		seen[p.Name] = true
		rl, known := rs[p.Name]
		if !known {
			return nil, fmt.Sprintf("must NOT have additional properties: '%s'", p.Name)
		}
		if rl.kind == "file" {
			if p.FileName == "" {
				return nil, fmt.Sprintf("'/%s' must be a binary image part, not a text field", p.Name)
			}
			kind, err := providerkit.CheckImage(p.Data)
			if err != nil {
				return nil, fmt.Sprintf("'/%s' is not an image: %v", p.Name, err)
			}
			if p.ContentType != kind {
				return nil, fmt.Sprintf("'/%s' has Content-Type %q but holds %s", p.Name, p.ContentType, kind)
			}
			config, _, _ := providerkit.Decoders(kind) // CheckImage named one of the types it has
			cfg, err := config(bytes.NewReader(p.Data))
			if err == nil && (cfg.Width > int(rl.max) || cfg.Height > int(rl.max)) {
				return nil, fmt.Sprintf("'/%s' is %dx%d: input images must be at most %gx%g", p.Name, cfg.Width, cfg.Height, rl.max, rl.max)
			}
			continue
		}
		if p.FileName != "" {
			return nil, fmt.Sprintf("'/%s' must be %s, not a file", p.Name, rl.kind)
		}
		v := string(p.Data)
		switch rl.kind {
		case "string":
			fields[p.Name] = v
		case "int", "number":
			if problem := checkNumber(p.Name, v, rl); problem != "" {
				return nil, problem
			}
			fields[p.Name] = json.Number(v)
		}
	}
	prompt, ok := fields["prompt"].(string)
	if problem := checkPrompt(prompt, ok); problem != "" {
		return nil, problem
	}
	return fields, ""
}
