package history

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagegen/imagegen"
)

// EditsPrefix is where the links from a job to the later jobs that took one
// of its images as an input ("images://JOB[/INDEX]") are kept, so that a
// job's page can say "edited in …" with one list call instead of reading
// every record. Keys sort newest first within a source:
// edits/{source job}/{inverted millis of the edit's start}-{edit job}.json.
const EditsPrefix = "edits/"

// EditLink is one stored link from a source job to an edit of it.
type EditLink struct {
	Key    string `json:"-"`
	Source string `json:"source_job_id"`
	// Edit is the job that took an image of Source as an input.
	Edit      string    `json:"job_id"`
	CreatedAt time.Time `json:"created_at"`
}

// EditKey is the key of the link from source to edit, an edit started at
// created.
func EditKey(source, edit string, created time.Time) string {
	inv := maxMillis - created.UnixMilli()
	return fmt.Sprintf("%s%s/%013d-%s.json", EditsPrefix, sanitize(source), max(inv, 0), sanitize(edit))
}

// EditLinks lists the links a record's job makes: one per distinct job its
// image inputs name (the mask is not an input image). Every image of a job
// yields the same links, so whichever of its images is stored writes them,
// and a rewrite puts the same bytes under the same keys.
func EditLinks(r Record) []EditLink {
	var out []EditLink
	for _, ref := range r.Request.Inputs {
		source, _, ok := imagegen.JobOfRef(ref)
		if !ok || source == r.JobID || slices.ContainsFunc(out, func(l EditLink) bool { return l.Source == source }) {
			continue
		}
		out = append(out, EditLink{Key: EditKey(source, r.JobID, r.CreatedAt), Source: source, Edit: r.JobID, CreatedAt: r.CreatedAt.UTC()})
	}
	return out
}

// MarshalLink encodes a link's object (small JSON, for people reading the
// bucket; readers need only its key).
func MarshalLink(l EditLink) ([]byte, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode edit link %s: %w", l.Key, err)
	}
	return b, nil
}

// Putter is what writing links needs of an object store.
type Putter interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

// WriteLinks puts the edit links of a record (see EditLinks), after the
// record: the Store activity and Backfill call it.
func WriteLinks(ctx context.Context, s Putter, r Record) error {
	for _, l := range EditLinks(r) {
		b, err := MarshalLink(l)
		if err != nil {
			return err
		}
		if err := s.Put(ctx, l.Key, b, ContentType); err != nil {
			return fmt.Errorf("write edit link %s: %w", l.Key, err)
		}
	}
	return nil
}

// Edits returns up to limit jobs that took an image of source as an input,
// newest first, from one list call (keys only; nothing is read).
func Edits(ctx context.Context, s Store, source string, limit int) ([]EditLink, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("edits of %s: limit %d", source, limit)
	}
	prefix := EditsPrefix + sanitize(source) + "/"
	keys, err := s.List(ctx, prefix, "", limit)
	if err != nil {
		return nil, fmt.Errorf("list edits of %s: %w", source, err)
	}
	out := make([]EditLink, 0, len(keys))
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, prefix), ".json")
		if !ok || len(name) < 15 || name[13] != '-' {
			continue
		}
		inv, err := strconv.ParseInt(name[:13], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, EditLink{Key: k, Source: source, Edit: name[14:], CreatedAt: time.UnixMilli(maxMillis - inv).UTC()})
	}
	return out, nil
}
