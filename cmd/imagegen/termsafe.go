package main

import (
	"fmt"
	"strings"
	"unicode"
)

// termSafe makes text from jobs (prompts, errors, URLs: anyone who can start
// a job chooses them) harmless on a terminal: control characters (C0 but
// tab, DEL, C1, ESC above all, which starts sequences that set the window
// title, clear the screen or rewrite earlier lines) and the bidirectional
// overrides that reorder what is shown are printed as visible escapes.
func termSafe(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r == unicode.ReplacementChar:
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
