package devserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/server/common/authorization"
)

// SecretFileName is the file in the data dir that holds the frontend secret.
// Other processes on the machine (`imagegen jobs`, `imagegen stdio`, a
// separate `serve`) read it from there; its mode 0600 limits that to the
// user who runs the server.
const SecretFileName = "frontend.secret"

// secretBytes is the secret's entropy (256 bits, base64url encoded).
const secretBytes = 32

// errUnauthenticated is what the claim mapper returns for a missing or wrong
// secret; the server answers every such call with a generic PermissionDenied.
var errUnauthenticated = errors.New("missing or invalid frontend secret")

// loadOrCreateSecret returns the secret stored in dataDir, creating it (mode
// 0600, never overwritten) on first use. Without a data dir the secret is
// random and lives only in memory.
func loadOrCreateSecret(dataDir string) (string, error) {
	if dataDir == "" {
		return newSecret()
	}
	path := filepath.Join(dataDir, SecretFileName)
	if s, err := ReadSecret(dataDir); err == nil {
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	s, err := newSecret()
	if err != nil {
		return "", err
	}
	// O_EXCL: two servers starting on one data dir cannot end up with
	// different secrets; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ReadSecret(dataDir)
	}
	if err != nil {
		return "", fmt.Errorf("create frontend secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return "", fmt.Errorf("write frontend secret: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("write frontend secret: %w", err)
	}
	return s, nil
}

// ReadSecret reads the frontend secret a dev server keeps in dataDir (the
// same directory passed as Options.DataDir). It refuses a file other users
// can read, since anyone holding the secret controls every job.
func ReadSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, SecretFileName)
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("frontend secret %s is readable by other users (mode %v): run chmod 600 on it", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read frontend secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 32 {
		return "", fmt.Errorf("frontend secret %s is too short (%d characters): delete it to get a new one", path, len(s))
	}
	return s, nil
}

func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate frontend secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// secretClaimMapper grants the system admin role to callers presenting the
// secret as "authorization: Bearer <secret>" (what the SDK's API key
// credentials send) and nothing to anyone else. With the server's default
// authorizer a caller without claims may only call the health checks.
type secretClaimMapper struct {
	want [sha256.Size]byte
}

func newSecretClaimMapper(secret string) *secretClaimMapper {
	return &secretClaimMapper{want: sha256.Sum256([]byte(secret))}
}

func (m *secretClaimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	token, ok := cutBearer(info.AuthToken)
	// Digests first: not even the length of the secret leaks through timing.
	got := sha256.Sum256([]byte(token))
	if !ok || subtle.ConstantTimeCompare(got[:], m.want[:]) != 1 {
		return nil, errUnauthenticated
	}
	return &authorization.Claims{Subject: "imagegen", System: authorization.RoleAdmin}, nil
}

// AuthInfoRequired is true: a call without any credentials gets no claims
// (and so only the health checks) without reaching GetClaims.
func (m *secretClaimMapper) AuthInfoRequired() bool { return true }

// cutBearer returns the credentials of an "Authorization: Bearer x" value;
// the scheme is case-insensitive (RFC 6750 section 2.1).
func cutBearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}
