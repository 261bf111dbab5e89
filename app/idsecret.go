package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// idSecretFile holds the per-install key of idempotency job ids when no
// token is configured.
const idSecretFile = "idempotency.secret"

// jobIDSecret is the key that maps idempotency keys to job ids (jobs.IDForKey).
// Every process starting jobs must agree on it: with IMAGEGEN_AUTH_TOKEN set
// (every serve replica beyond loopback has one) it is derived from the token,
// so replicas agree without sharing a file; otherwise it is a random secret
// kept in the data dir (dev, stdio and a loopback serve on one data dir
// agree). Rotating the token changes the ids of later calls' keys.
func jobIDSecret(opts Options) ([]byte, error) {
	if opts.HTTP.AuthToken != "" {
		m := hmac.New(sha256.New, []byte(opts.HTTP.AuthToken))
		m.Write([]byte("imagegen idempotency job ids v1"))
		return m.Sum(nil), nil
	}
	path := filepath.Join(opts.DataDir, idSecretFile)
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("%s is too short: delete it to get a new one", path)
		}
		return []byte(s), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	if err := privateDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return jobIDSecret(opts) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("idempotency secret: %w", err)
	}
	return []byte(secret), nil
}
