package history

import (
	"context"
	"fmt"
)

// Writer is a Store that records can be written to.
type Writer interface {
	Store
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

// BackfillStats says what a backfill did.
type BackfillStats struct {
	// Jobs is how many distinct jobs the candidates named.
	Jobs int `json:"jobs"`
	// Recorded is how many jobs already had records and were left alone.
	Recorded int `json:"already_recorded"`
	// Written is how many records were (or, in a dry run, would be) written.
	Written int `json:"records_written"`
}

// Backfill writes the candidate records of every job that has no record yet:
// images stored before records existed. A job with any record is left alone,
// so running it again, or next to a worker that records new images, writes
// nothing twice. It lists the existing records once (one list call per 1000).
func Backfill(ctx context.Context, s Writer, candidates []Record, dryRun bool) (BackfillStats, error) {
	recorded, err := recordedJobs(ctx, s)
	if err != nil {
		return BackfillStats{}, err
	}
	var st BackfillStats
	seen := make(map[string]bool)
	for _, r := range candidates {
		job := sanitize(r.JobID)
		if !seen[job] {
			seen[job] = true
			st.Jobs++
			if recorded[job] {
				st.Recorded++
			}
		}
		if recorded[job] {
			continue
		}
		if !dryRun {
			b, err := Marshal(r)
			if err != nil {
				return st, err
			}
			key := Key(r.JobID, r.Index, r.CreatedAt)
			if err := s.Put(ctx, key, b, ContentType); err != nil {
				return st, fmt.Errorf("write record %s: %w", key, err)
			}
			if err := WriteLinks(ctx, s, r); err != nil {
				return st, err
			}
		}
		st.Written++
	}
	return st, nil
}

// recordedJobs lists the (sanitized) job ids that have at least one record.
func recordedJobs(ctx context.Context, s Store) (map[string]bool, error) {
	jobs := make(map[string]bool)
	after := ""
	for {
		keys, err := s.List(ctx, Prefix, after, listBatch)
		if err != nil {
			return nil, fmt.Errorf("list records: %w", err)
		}
		for _, k := range keys {
			if job, _, ok := keyParts(k); ok {
				jobs[job] = true
			}
		}
		if len(keys) < listBatch {
			return jobs, nil
		}
		after = keys[len(keys)-1]
	}
}
