package app

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestJobIDSecretIsPerInstallOrDerivedFromTheToken(t *testing.T) {
	dir := t.TempDir()
	s1, err := jobIDSecret(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := jobIDSecret(Options{DataDir: dir})
	if err != nil || !bytes.Equal(s1, s2) {
		t.Errorf("second read %q, %v; want the first secret", s2, err)
	}
	if info, err := os.Stat(filepath.Join(dir, idSecretFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v, %v; want mode 0600", info, err)
	}
	other, _ := jobIDSecret(Options{DataDir: t.TempDir()})
	if bytes.Equal(s1, other) {
		t.Error("two installs share a secret")
	}
	// Replicas with the same token agree without sharing a file.
	r1, _ := jobIDSecret(Options{DataDir: t.TempDir(), HTTP: HTTPOptions{AuthToken: "0123456789abcdef0123456789abcdef"}})
	r2, _ := jobIDSecret(Options{DataDir: t.TempDir(), HTTP: HTTPOptions{AuthToken: "0123456789abcdef0123456789abcdef"}})
	if !bytes.Equal(r1, r2) || bytes.Equal(r1, s1) {
		t.Error("token-derived secrets of two replicas differ, or equal the file secret")
	}
}
