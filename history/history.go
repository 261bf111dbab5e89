// Package history keeps a small JSON record of every stored image beside the
// image in the object store, so that the gallery outlives Temporal's
// retention: a job can be inspected in Temporal until its namespace retention
// ends, its images are listed from these records for as long as the bucket
// keeps them.
//
// Records live under Prefix with keys that sort newest first (S3 lists keys in
// ascending byte order): records/{inverted millis}-{job id}-{index}.json,
// where inverted millis is maxMillis minus the Unix millisecond of the job's
// start, zero-padded to 13 digits. A gallery page is therefore one list call
// plus one read per record on the page.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen"
)

// Prefix is where records are kept in the object store.
const Prefix = "records/"

// maxMillis is the largest 13-digit millisecond count (year 2286).
const maxMillis = 9_999_999_999_999

// Record describes one stored image. Its bytes depend only on the workflow's
// input and the staged image, so a retried Store activity rewrites the same
// object with the same bytes.
type Record struct {
	JobID string `json:"job_id"`
	Index int    `json:"index"`
	// Request is the prompt, model and parameters the image was made with;
	// its Inputs and Mask are kept as imagegen.ShowRef shows them (job
	// references as given, URLs without the query string or user info that
	// may hold a token), never image bytes.
	Request     imagegen.Request `json:"request"`
	ContentType string           `json:"content_type"`
	SizeBytes   int64            `json:"size_bytes"`
	Width       int              `json:"width,omitempty"`
	Height      int              `json:"height,omitempty"`
	// Key and ThumbnailKey name the image and its thumbnail in the same
	// store. The URL is not kept: presigned URLs expire, so readers ask the
	// store for a fresh one.
	Key          string `json:"key"`
	ThumbnailKey string `json:"thumbnail_key,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Placeholder  bool   `json:"placeholder,omitempty"`
	// CreatedAt is when the job's run started (the key's time).
	CreatedAt time.Time `json:"created_at"`
	// GeneratedAt is when the image was ready to upload (workflow time);
	// the job completes right after its last image is stored.
	GeneratedAt time.Time `json:"generated_at,omitzero"`
	// PaidCalls and Cost are what the provider calls behind this image cost,
	// paid retries and regenerations included; Cost is nil when the model
	// has no published price. Both absent in records written before costs
	// were counted; a placeholder's cost is 0.
	PaidCalls int           `json:"paid_calls,omitempty"`
	Cost      *imagegen.USD `json:"cost_usd,omitempty"`
}

// HasCost reports whether the record says what its image cost (records
// written before costs were counted do not).
func (r Record) HasCost() bool { return r.Cost != nil || r.PaidCalls > 0 }

// Key is the record key of image index of job jobID started at created.
func Key(jobID string, index int, created time.Time) string {
	inv := maxMillis - created.UnixMilli()
	return fmt.Sprintf("%s%013d-%s-%d.json", Prefix, max(inv, 0), sanitize(jobID), index)
}

// Marshal encodes a record (compact, fields in a fixed order).
func Marshal(r Record) ([]byte, error) {
	r.Request.Inputs = imagegen.ShowRefs(r.Request.Inputs)
	r.Request.Mask = imagegen.ShowRef(r.Request.Mask)
	r.CreatedAt = r.CreatedAt.UTC()
	r.GeneratedAt = r.GeneratedAt.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record of %s/%d: %w", r.JobID, r.Index, err)
	}
	return b, nil
}

// ContentType is the media type records are stored with.
const ContentType = "application/json"

// keyParts splits a record key into its job part and index; ok is false for
// keys that are not record keys.
func keyParts(key string) (job string, index int, ok bool) {
	name, found := strings.CutPrefix(key, Prefix)
	if !found {
		return "", 0, false
	}
	name, found = strings.CutSuffix(name, ".json")
	if !found || len(name) < 15 || name[13] != '-' {
		return "", 0, false
	}
	rest := name[14:]
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return rest[:i], n, true
}

// sanitize keeps a job id within the object store's key alphabet.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// Store is what reading the history needs of an object store
// (objectstore.Local and objectstore.S3).
type Store interface {
	// List returns up to limit keys under prefix that sort after
	// startAfter, in ascending order.
	List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error)
	Get(ctx context.Context, key string) ([]byte, string, error)
	URL(ctx context.Context, key string) (string, error)
}

// Entry is a listed image: its record and a URL valid now.
type Entry struct {
	Record
	URL string
}

// listBatch is how many keys one list call asks for (S3's maximum).
const listBatch = 1000

// Page returns the jobs at positions [offset, offset+limit) of the history,
// newest first, one entry per job: the job's lowest-index image (the one a
// job's result names first). Keys alone decide the page, so only the page's
// records are read.
func Page(ctx context.Context, s Store, limit, offset int) ([]Entry, error) {
	if limit <= 0 || offset < 0 {
		return nil, fmt.Errorf("history page: limit %d, offset %d", limit, offset)
	}
	var (
		keys  []string
		seen  = map[string]bool{}
		after string
	)
	want := offset + limit
scan:
	for {
		batch, err := s.List(ctx, Prefix, after, listBatch)
		if err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		for _, k := range batch {
			job, _, ok := keyParts(k)
			if !ok || seen[job] {
				// A job's images are adjacent and in index order, and a
				// retried job's newer run sorts first: the first key of a
				// job is the one to show.
				continue
			}
			seen[job] = true
			if len(seen) > offset {
				keys = append(keys, k)
			}
			if len(seen) >= want {
				break scan
			}
		}
		if len(batch) < listBatch {
			break
		}
		after = batch[len(batch)-1]
	}
	// The page's reads are independent: run a few at once, so a page costs
	// a few round trips' latency rather than one per record.
	out := make([]Entry, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, readConcurrency)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = read(ctx, s, k)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// readConcurrency bounds the record reads of one page in flight.
const readConcurrency = 8

// Find returns the records of a job (all its images, lowest index first) by
// scanning the history; ok is false when there are none. It is meant for
// jobs Temporal no longer knows, which are rare lookups.
func Find(ctx context.Context, s Store, jobID string) ([]Entry, error) {
	want := sanitize(jobID)
	var (
		out   []Entry
		after string
	)
	for {
		batch, err := s.List(ctx, Prefix, after, listBatch)
		if err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		for _, k := range batch {
			if job, _, ok := keyParts(k); ok && job == want {
				e, err := read(ctx, s, k)
				if err != nil {
					return nil, err
				}
				if e.JobID == jobID {
					out = append(out, e)
				}
			} else if len(out) > 0 {
				// A job's records are adjacent: the newest run's set is complete.
				return out, nil
			}
		}
		if len(batch) < listBatch {
			return out, nil
		}
		after = batch[len(batch)-1]
	}
}

func read(ctx context.Context, s Store, key string) (Entry, error) {
	b, _, err := s.Get(ctx, key)
	if err != nil {
		return Entry{}, fmt.Errorf("read record %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Entry{}, fmt.Errorf("decode record %s: %w", key, err)
	}
	url, err := s.URL(ctx, r.Key)
	if err != nil {
		return Entry{}, fmt.Errorf("url of %s: %w", r.Key, err)
	}
	return Entry{Record: r, URL: url}, nil
}
