package app_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/logging"
	"github.com/imagegen/imagegen/internal/testkit"
	"github.com/imagegen/imagegen/workersai/workersaitest"
)

// TestDataDirIsPrivate: the data dir holds every prompt (SQLite), the images
// and the frontend secret. It was 0755 with 0644 files; now the directory is
// 0700 (tightened when it already exists) and nothing in it is readable by
// group or others.
func TestDataDirIsPrivate(t *testing.T) {
	fake := workersaitest.NewServer()
	defer fake.Close()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil { // as an older version left it
		t.Fatal(err)
	}
	cfg := devConfig(dir, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := testkit.Dev(ctx, cfg, logging.New(io.Discard, "text", "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	generate(t, a.MCPURL, testToken, "a prompt nobody else may read")

	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen[filepath.Ext(path)] = true
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other access", rel, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".db", ".db-wal", ".secret", ".png"} {
		if !seen[ext] {
			t.Errorf("no %s file checked (saw %v)", ext, seen)
		}
	}
}
