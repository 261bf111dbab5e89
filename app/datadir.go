package app

import (
	"fmt"
	"os"
)

// privateDataDir creates the data dir (or tightens an existing one) to mode
// 0700: it holds every prompt (Temporal's database), the images and the
// frontend secret, none of which other users of the machine may read.
func privateDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	return nil
}
