package imagegen

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// RefKind says where a reference image comes from.
type RefKind int

const (
	// RefJob is an earlier job's stored image: images://JOB or images://JOB/INDEX.
	RefJob RefKind = iota + 1
	// RefURL is an http(s) URL, fetched by the FetchInputs activity.
	RefURL
	// RefInline is an image the caller sent inline, stored content-addressed
	// by the MCP layer before the job started: inline:sha256-HEX.
	RefInline
)

// Ref is a parsed reference image (Request.Inputs, Request.Mask).
type Ref struct {
	Kind RefKind
	// JobID and Index name an earlier job's image (RefJob).
	JobID string
	Index int
	// URL is the http(s) address (RefURL).
	URL string
	// SHA256 is the hex SHA-256 of an inline image's bytes (RefInline).
	SHA256 string
}

// Reference syntax bounds.
const (
	// MaxRefURLLength bounds an input URL, in bytes.
	MaxRefURLLength = 2048
	// MaxRefIndex bounds the image index of a job reference syntactically;
	// whether the job has that image is checked against the job (when an
	// edit starts, when its resource is read).
	MaxRefIndex = 99
	// MaxInputImages is the most reference images a request may name (each
	// model's own bound is its MaxInputs).
	MaxInputImages = 4
)

// jobIDPattern is the shape of a job id: a lower-case UUID, as package jobs
// makes them.
var jobIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// IsJobID reports whether id has the shape of a job id. Tool arguments and
// image references both check ids with it, so that they accept the same ids.
func IsJobID(id string) bool { return jobIDPattern.MatchString(id) }

// ParseRef parses a reference image: images://JOB (the job's first image),
// images://JOB/INDEX, an http:// or https:// URL, or inline:sha256-HEX. The
// error, of kind KindInvalidInput, says what is wrong in words a model can
// act on; name is what the caller calls the argument ("input_images[1]").
func ParseRef(name, s string) (Ref, error) {
	bad := func(format string, args ...any) (Ref, error) {
		return Ref{}, invalid(name + ": " + fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty reference: pass images://JOB_ID (an earlier job's image), an https:// URL or a data:image/png;base64,… URL")
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad("%s contains spaces or control characters", quoteRef(s))
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "images://"):
		rest := s[len("images://"):]
		id, idx, hasIdx := strings.Cut(rest, "/")
		if !IsJobID(id) {
			return bad("%s does not name a job: use images://JOB_ID with the job_id generate_image returned (a UUID), optionally /INDEX", quoteRef(s))
		}
		r := Ref{Kind: RefJob, JobID: id}
		if hasIdx {
			n, err := strconv.Atoi(idx)
			if err != nil || n < 0 || n > MaxRefIndex || strconv.Itoa(n) != idx {
				return bad("%s: the image index must be a number from 0 (the first image) to %d", quoteRef(s), MaxRefIndex)
			}
			r.Index = n
		}
		return r, nil
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		if len(s) > MaxRefURLLength {
			return bad("the URL is %d bytes long; the limit is %d", len(s), MaxRefURLLength)
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return bad("%s is not a valid http(s) URL", quoteRef(s))
		}
		if u.User != nil {
			return bad("URLs with a user name or password are refused (they would be stored with the job): make the image reachable without them")
		}
		return Ref{Kind: RefURL, URL: s}, nil
	case strings.HasPrefix(lower, "inline:"):
		sum, ok := strings.CutPrefix(s[len("inline:"):], "sha256-")
		if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != 32 || strings.ToLower(sum) != sum {
			return bad("%s is not an inline image reference (inline:sha256- and 64 lowercase hex digits)", quoteRef(s))
		}
		return Ref{Kind: RefInline, SHA256: sum}, nil
	case strings.HasPrefix(lower, "data:"):
		return bad("data: URLs are taken only as tool arguments (input_images, mask), where the server stores them first")
	}
	return bad("%s is not a reference image: use images://JOB_ID[/INDEX] (an earlier job's image), an http(s):// URL or a data:image/png;base64,… URL", quoteRef(s))
}

// ParseJobRef parses a reference that must name an earlier job's image,
// images://JOB or images://JOB/INDEX (an MCP resource URI): ParseRef's rules,
// with the other forms refused. The error, of kind KindInvalidInput, starts
// with name.
func ParseJobRef(name, s string) (Ref, error) {
	if !hasPrefixFold(s, "images://") {
		return Ref{}, invalid(fmt.Sprintf("%s: %s is not an image reference: use images://JOB_ID (a job's first image) or images://JOB_ID/INDEX", name, quoteRef(s)))
	}
	return ParseRef(name, s)
}

// JobOfRef returns the job id and image index of an "images://JOB[/INDEX]"
// reference as ParseRef reads it; ok is false for any other form and for a
// malformed one. It checks only the shape, not that the job exists.
func JobOfRef(ref string) (job string, index int, ok bool) {
	r, err := ParseJobRef("", ref)
	if err != nil {
		return "", 0, false
	}
	return r.JobID, r.Index, true
}

// JobRef is the canonical reference of image index of job id, the spelling
// ParseRef reads back: images://JOB for the first image, images://JOB/INDEX
// for the others.
func JobRef(id string, index int) string {
	return Ref{Kind: RefJob, JobID: id, Index: index}.String()
}

// String is the reference in its canonical spelling: images://JOB for a
// job's first image, images://JOB/INDEX for the others.
func (r Ref) String() string {
	switch r.Kind {
	case RefJob:
		if r.Index == 0 {
			return "images://" + r.JobID
		}
		return fmt.Sprintf("images://%s/%d", r.JobID, r.Index)
	case RefURL:
		return r.URL
	case RefInline:
		return "inline:sha256-" + r.SHA256
	}
	return ""
}

// InlineRef is the reference of an inline image whose SHA-256 is sum.
func InlineRef(sum [32]byte) string { return "inline:sha256-" + hex.EncodeToString(sum[:]) }

// InlineKey is the object-store key of an inline image: content-addressed,
// so that storing the same image twice leaves one object, and without an
// extension, so that the reference alone names it (its type is sniffed
// from the bytes when it is read).
func (r Ref) InlineKey() string { return "inputs/inline/sha256-" + r.SHA256 }

// quoteRef quotes a reference for an error message, clipped.
func quoteRef(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
