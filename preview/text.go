package preview

import (
	"image"
	"strings"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

const (
	glyphW, glyphH = 7, 13 // basicfont.Face7x13 cell
	glyphAscent    = 11
	pad            = 6
	maxPromptLines = 8
)

// rgb is an opaque colour; the preview never needs transparency.
type rgb [3]uint8

func black() rgb  { return rgb{0, 0, 0} }
func yellow() rgb { return rgb{255, 210, 0} }
func white() rgb  { return rgb{255, 255, 255} }

// drawCaptions puts the warning label in a black band at the top (as large as
// the width allows) and again at the bottom, the model name (and the note,
// if any) under the top band, and the wrapped prompt in a darkened box above
// the bottom band. It returns the rectangle left free between them.
func drawCaptions(img *image.RGBA, model, note, prompt string) image.Rectangle {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	big := min(max((w-2*pad)/(len(Label)*glyphW), 1), 4)
	small := max(1, big/2)
	cols := max(1, (w-2*pad)/(glyphW*small))
	lineH := glyphH*small + small + 1

	// Top band: the label, then the model name.
	top := glyphH*big + 2*pad
	bandLines := 1
	if note != "" {
		bandLines = 2
	}
	fillRect(img, image.Rect(0, 0, w, top+bandLines*lineH+pad), black())
	drawText(img, pad, pad, big, Label, yellow())
	drawText(img, pad, top, small, clipLine("model: "+model, cols), white())
	if note != "" {
		drawText(img, pad, top+lineH, small, clipLine(note, cols), yellow())
	}
	top += bandLines*lineH + pad

	// Bottom band: the label again, so a crop of either half still says it.
	foot := glyphH*small + 2*pad
	fillRect(img, image.Rect(0, h-foot, w, h), black())
	drawText(img, pad, h-foot+pad, small, clipLine(Label, cols), yellow())

	// Prompt box: as many wrapped lines as fit, the last one ending in "..." if cut.
	lines := wrap("prompt: "+prompt, cols)
	fit := min(maxPromptLines, (h-top-foot-2*pad)/lineH)
	if fit <= 0 {
		return image.Rect(0, top, w, max(top, h-foot))
	}
	if len(lines) > fit {
		lines = lines[:fit]
		lines[fit-1] = clipLine(lines[fit-1]+" ...", cols)
	}
	boxTop := h - foot - len(lines)*lineH - 2*pad
	darken(img, image.Rect(0, boxTop, w, h-foot))
	for i, line := range lines {
		drawText(img, pad, boxTop+pad+i*lineH, small, line, white())
	}
	return image.Rect(0, top, w, max(top, boxTop))
}

// drawText renders s with the 7x13 bitmap font, each font pixel drawn as a
// scale x scale block: the font is tiny, and a label must be readable on a
// 2048-pixel image.
func drawText(img *image.RGBA, x, y, scale int, s string, c rgb) {
	s = printable(s)
	if s == "" {
		return
	}
	mask := image.NewAlpha(image.Rect(0, 0, len(s)*glyphW, glyphH))
	d := font.Drawer{Dst: mask, Src: image.Opaque, Face: basicfont.Face7x13, Dot: fixed.P(0, glyphAscent)}
	d.DrawString(s)
	for my := range glyphH {
		for mx := range len(s) * glyphW {
			if mask.Pix[my*mask.Stride+mx] < 0x80 {
				continue
			}
			fillRect(img, image.Rect(x+mx*scale, y+my*scale, x+(mx+1)*scale, y+(my+1)*scale), c)
		}
	}
}

// fillRect paints r (clipped to the image) with c.
func fillRect(img *image.RGBA, r image.Rectangle, c rgb) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			row[i], row[i+1], row[i+2], row[i+3] = c[0], c[1], c[2], 0xFF
		}
	}
}

// darken dims r to 30% so white text stays readable on any background.
func darken(img *image.RGBA, r image.Rectangle) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			for c := i; c < i+3; c++ {
				row[c] = uint8(int(row[c]) * 3 / 10)
			}
		}
	}
}

// printable maps text to what the bitmap font can draw: whitespace becomes a
// space and anything outside printable ASCII becomes '?', so every character
// keeps a cell and the layout stays predictable.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case r < 0x20 || r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clipLine shortens one line to cols characters.
func clipLine(s string, cols int) string {
	s = printable(s)
	if len(s) <= cols {
		return s
	}
	if cols <= 3 {
		return s[:cols]
	}
	return s[:cols-3] + "..."
}

// wrap breaks text into lines of at most cols characters at spaces, splitting
// words longer than a line.
func wrap(s string, cols int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(printable(s)) {
		for len(word) > cols {
			if line != "" {
				lines = append(lines, line)
				line = ""
			}
			lines = append(lines, word[:cols])
			word = word[cols:]
		}
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= cols:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
