package preview

import (
	"bytes"
	"fmt"
	"image"
	"image/color"

	"golang.org/x/image/draw"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/internal/providerkit"
)

// pictures are the decoded inputs of an edit.
type pictures struct {
	images []image.Image
	mask   image.Image // nil without a mask
}

// decodeInputs checks the input images as a real provider would (the
// request names exactly the images given, each a PNG, JPEG or WebP no
// larger than the model takes) and decodes them.
func decodeInputs(req imagegen.Request, inputs imagegen.Inputs) (pictures, error) {
	var p pictures
	if len(inputs.Images) != len(req.Inputs) {
		return p, invalidf("the request names %d input images but %d were given to the preview renderer", len(req.Inputs), len(inputs.Images))
	}
	if (inputs.Mask != nil) != (req.Mask != "") {
		return p, invalidf("the request's mask and the mask given to the preview renderer disagree (one is missing)")
	}
	side := 0
	if m, ok := imagegen.LookupModel(req.Model); ok {
		side = m.InputSide
	}
	for i, in := range inputs.Images {
		img, err := decode(fmt.Sprintf("input image %d", i), in.Data, side, req.Model)
		if err != nil {
			return p, err
		}
		p.images = append(p.images, img)
	}
	if inputs.Mask != nil {
		img, err := decode("the mask", inputs.Mask.Data, side, req.Model)
		if err != nil {
			return p, err
		}
		p.mask = img
	}
	return p, nil
}

func decode(what string, data []byte, side int, model string) (image.Image, error) {
	cfg, dec, ok := providerkit.Decoders(imagegen.SniffImageType(data))
	if !ok {
		return nil, invalidf("%s is not a PNG, JPEG or WebP image", what)
	}
	c, err := cfg(bytes.NewReader(data))
	if err != nil {
		return nil, invalidf("%s does not decode: %v", what, err)
	}
	// Inputs arrive normalised to the model's InputSide; without one, a
	// cap keeps a decompression bomb from taking the memory.
	limit := side
	if limit == 0 {
		limit = 4096
	}
	if c.Width > limit || c.Height > limit {
		return nil, invalidf("%s is %dx%d; %s takes input images of at most %dx%d: resize it first", what, c.Width, c.Height, model, limit, limit)
	}
	img, err := dec(bytes.NewReader(data))
	if err != nil {
		return nil, invalidf("%s does not decode: %v", what, err)
	}
	return img, nil
}

func invalidf(format string, args ...any) error {
	return &imagegen.Error{Kind: imagegen.KindInvalidInput, Message: "preview: " + fmt.Sprintf(format, args...)}
}

// inputsNote is the caption line that says what an edit was given.
func inputsNote(req imagegen.Request) string {
	if len(req.Inputs) == 0 {
		return ""
	}
	note := "edit of 1 input image"
	if n := len(req.Inputs); n > 1 {
		note = fmt.Sprintf("edit of %d input images", n)
	}
	if req.Mask != "" {
		note += ", mask in red"
	}
	if req.Strength != nil {
		note += fmt.Sprintf(", strength %g", *req.Strength)
	}
	return note
}

// drawInputs draws the first input image as large as fits in area (framed,
// the mask's area tinted red over it) and the other inputs as thumbnails in
// a column on the right.
func drawInputs(img *image.RGBA, area image.Rectangle, p pictures) {
	if len(p.images) == 0 {
		return
	}
	area = area.Inset(pad)
	if area.Dx() < 16 || area.Dy() < 16 {
		return // no room on a tiny canvas: the caption still says it
	}
	main := area
	if len(p.images) > 1 {
		col := area.Dx() / 4
		main.Max.X -= col + pad
		thumbs := image.Rect(main.Max.X+pad, area.Min.Y, area.Max.X, area.Max.Y)
		h := (thumbs.Dy() - pad*(len(p.images)-2)) / (len(p.images) - 1)
		for i, src := range p.images[1:] {
			if h < 4 {
				break // no room for thumbnails: the caption still counts them
			}
			y := thumbs.Min.Y + i*(h+pad)
			drawFitted(img, image.Rect(thumbs.Min.X, y, thumbs.Max.X, y+h), src, nil)
		}
	}
	drawFitted(img, main, p.images[0], p.mask)
}

// drawFitted scales src to fit in r, keeping its aspect, centred and framed
// in white; where mask (scaled alike) is light, the picture is tinted red.
func drawFitted(dst *image.RGBA, r image.Rectangle, src, mask image.Image) {
	sb := src.Bounds()
	if r.Dx() < 4 || r.Dy() < 4 || sb.Dx() == 0 || sb.Dy() == 0 {
		return
	}
	w, h := r.Dx(), sb.Dy()*r.Dx()/sb.Dx()
	if h > r.Dy() {
		w, h = sb.Dx()*r.Dy()/sb.Dy(), r.Dy()
	}
	w, h = max(w, 1), max(h, 1)
	x, y := r.Min.X+(r.Dx()-w)/2, r.Min.Y+(r.Dy()-h)/2
	target := image.Rect(x, y, x+w, y+h)
	fillRect(dst, target.Inset(-2), white())
	draw.ApproxBiLinear.Scale(dst, target, src, sb, draw.Src, nil)
	if mask == nil {
		return
	}
	m := image.NewGray(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(m, m.Rect, mask, mask.Bounds(), draw.Src, nil)
	red := color.RGBA{R: 255, A: 255}
	for my := range h {
		for mx := range w {
			if m.GrayAt(mx, my).Y < 0x80 {
				continue
			}
			o := dst.PixOffset(x+mx, y+my)
			px := dst.Pix[o : o+4 : o+4]
			px[0] = uint8((int(px[0]) + int(red.R)) / 2)
			px[1] = uint8(int(px[1]) / 2)
			px[2] = uint8(int(px[2]) / 2)
		}
	}
}
