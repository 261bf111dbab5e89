package history_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/history"
	"github.com/imagegen/imagegen/objectstore"
)

type store interface {
	history.Store
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

func newLocal(t *testing.T) store {
	s, err := objectstore.NewLocal(t.TempDir(), "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newS3 is an S3 client of a real S3 protocol server (gofakes3) in process.
func newS3(t *testing.T) store {
	backend := s3mem.New()
	if err := backend.CreateBucket("history"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s, err := objectstore.NewS3(context.Background(), objectstore.S3Config{Bucket: "history", AccessKeyID: "AKIDHISTORY",
		SecretAccessKey: "history-secret", Endpoint: srv.URL, UsePathStyle: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var stores = []struct {
	name string
	open func(*testing.T) store
}{{"local", newLocal}, {"s3", newS3}}

func put(t *testing.T, s store, r history.Record) {
	t.Helper()
	b, err := history.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), history.Key(r.JobID, r.Index, r.CreatedAt), b, history.ContentType); err != nil {
		t.Fatal(err)
	}
}

func record(job string, index int, created time.Time) history.Record {
	return history.Record{JobID: job, Index: index, CreatedAt: created, ContentType: "image/png", SizeBytes: 1234,
		Key:     fmt.Sprintf("%s/%s-%d.png", created.UTC().Format("2006/01/02"), job, index),
		Request: imagegen.Request{Prompt: "prompt of " + job, Model: "sdxl-lightning"}}
}

// 23 jobs (some with several images) written in shuffled order; a paged
// walk with any page size returns every job exactly once, newest first, and
// names each job's first image.
func TestPagesListEveryJobOnceNewestFirst(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
			var want []string
			for i := range 23 {
				job := fmt.Sprintf("job%02d", i)
				created := base.Add(time.Duration(i) * time.Hour)
				images := 1 + i%3
				for idx := images - 1; idx >= 0; idx-- { // highest index first: order of writes must not matter
					put(t, s, record(job, idx, created))
				}
				want = append(want, job)
			}
			slices.Reverse(want) // newest first
			for _, limit := range []int{1, 5, 50} {
				var got []string
				for offset := 0; ; offset += limit {
					page, err := history.Page(context.Background(), s, limit, offset)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range page {
						if e.Index != 0 || e.Request.Prompt != "prompt of "+e.JobID || e.URL == "" {
							t.Errorf("entry %+v: want the job's first image with its prompt and a URL", e)
						}
						got = append(got, e.JobID)
					}
					if len(page) < limit {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: walked %v, want %v", limit, got, want)
				}
			}
		})
	}
}

func TestFindReturnsEveryImageOfAJob(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			created := time.Date(2026, 10, 3, 8, 0, 0, 0, time.UTC)
			put(t, s, record("other-before", 0, created.Add(time.Minute)))
			for idx := range 3 {
				put(t, s, record("wanted", idx, created))
			}
			put(t, s, record("other-after", 0, created.Add(-time.Minute)))
			got, err := history.Find(context.Background(), s, "wanted")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[0].Index != 0 || got[2].Index != 2 || got[1].JobID != "wanted" {
				t.Errorf("Find = %+v, want images 0-2 of the job", got)
			}
			none, err := history.Find(context.Background(), s, "unknown")
			if err != nil || len(none) != 0 {
				t.Errorf("Find(unknown) = %v, %v; want nothing", none, err)
			}
		})
	}
}

// Keys sort newest first in the byte order S3 lists them in.
func TestKeysSortNewestFirst(t *testing.T) {
	older := history.Key("a", 0, time.UnixMilli(1_700_000_000_000))
	newer := history.Key("a", 0, time.UnixMilli(1_700_000_000_001))
	if !(newer < older) {
		t.Errorf("newer key %s does not sort before older %s", newer, older)
	}
	if got := history.Key("j-1", 2, time.UnixMilli(1_764_547_200_000)); got != "records/8235452799999-j-1-2.json" {
		t.Errorf("key = %s", got)
	}
}

func TestPageRejectsABadRange(t *testing.T) {
	s := newLocal(t)
	for _, c := range []struct{ limit, offset int }{{0, 0}, {10, -1}} {
		if _, err := history.Page(context.Background(), s, c.limit, c.offset); err == nil {
			t.Errorf("Page(limit %d, offset %d) succeeded", c.limit, c.offset)
		}
	}
}

// BenchmarkGalleryPageOf50 measures one page of 50 from 500 records on the
// S3 path (one list call, 50 reads) against the in-process S3 server.
func BenchmarkGalleryPageOf50(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			var s store
			if st.name == "local" {
				ls, err := objectstore.NewLocal(b.TempDir(), "http://127.0.0.1:8080")
				if err != nil {
					b.Fatal(err)
				}
				s = ls
			} else {
				backend := s3mem.New()
				_ = backend.CreateBucket("history")
				srv := httptest.NewServer(gofakes3.New(backend).Server())
				b.Cleanup(srv.Close)
				s3s, err := objectstore.NewS3(context.Background(), objectstore.S3Config{Bucket: "history", AccessKeyID: "AKIDHISTORY",
					SecretAccessKey: "history-secret", Endpoint: srv.URL, UsePathStyle: true, MaxAttempts: 1})
				if err != nil {
					b.Fatal(err)
				}
				s = s3s
			}
			base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
			for i := range 500 {
				r := record(fmt.Sprintf("job%03d", i), 0, base.Add(time.Duration(i)*time.Minute))
				data, _ := history.Marshal(r)
				if err := s.Put(context.Background(), history.Key(r.JobID, 0, r.CreatedAt), data, history.ContentType); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				page, err := history.Page(context.Background(), s, 50, 100)
				if err != nil || len(page) != 50 {
					b.Fatalf("page: %d entries, %v", len(page), err)
				}
			}
		})
	}
}
