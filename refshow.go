package imagegen

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxShownRef bounds how much of a reference of an unknown form is shown.
const maxShownRef = 120

// ShowRef is an input reference (Request.Inputs, Request.Mask) as it may be
// shown to people and models, in results, logs, records and pages: never
// image bytes, never a secret. Job references ("images://JOB[/INDEX]") and
// staged inline images ("inline:sha256-HEX") are shown as they are. An
// http(s) URL keeps only its scheme, host and path: a query string (a
// presigned URL's signature, an API key), user info and fragment are
// dropped, since they may hold credentials. A data: URL shows only its media
// type, and anything else is clipped.
func ShowRef(ref string) string {
	switch {
	case strings.HasPrefix(ref, "images://"), strings.HasPrefix(ref, "inline:"):
		return clipRef(ref)
	case hasPrefixFold(ref, "data:"):
		mediaType, _, _ := strings.Cut(ref[len("data:"):], ",")
		mediaType, _, _ = strings.Cut(mediaType, ";")
		return clipRef("data:" + mediaType + ",…")
	case hasPrefixFold(ref, "http://"), hasPrefixFold(ref, "https://"):
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return "(unreadable URL)"
		}
		shown := url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: u.Path, RawPath: u.RawPath}
		s := shown.String()
		if u.RawQuery != "" || u.ForceQuery {
			s += "?…"
		}
		return clipRef(s)
	}
	return clipRef(ref)
}

// ShowRefs applies ShowRef to each reference; nil stays nil.
func ShowRefs(refs []string) []string {
	if refs == nil {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = ShowRef(r)
	}
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func clipRef(s string) string {
	if utf8.RuneCountInString(s) <= maxShownRef {
		return s
	}
	return string([]rune(s)[:maxShownRef-1]) + "…"
}
