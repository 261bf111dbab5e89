package gallery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cookieName is the gallery's session cookie.
const cookieName = "imagegen_session"

// sessionPurpose separates the gallery's MACs from any other use of the token
// as a key.
const sessionPurpose = "imagegen gallery session v2\x00"

// RevokedFile is the file in the data dir that lists the sessions logged out
// before they expired.
const RevokedFile = "gallery-sessions-revoked.json"

// sessions issues and checks login cookies. A cookie is
// "<expiry unix seconds>.<nonce>.<HMAC-SHA256(token, purpose+expiry.nonce)>",
// the nonce 16 random bytes (base64url): it proves its holder knew the token,
// it expires on its own, it carries nothing secret (the MAC does not reveal
// the token), changing the token invalidates every cookie at once, and every
// login gets a cookie of its own.
//
// Logout revokes that one cookie: its nonce goes, with the cookie's expiry,
// into a small set kept in DATA_DIR/gallery-sessions-revoked.json (mode
// 0600, rewritten atomically: temporary file, then rename), pruned of
// entries past their expiry on every write, and read back at start, so a
// logout survives a restart. Without a data dir the set lives in memory
// only. The set is per data dir: replicas behind a load balancer that do not
// share one do not see each other's logouts. A set that exists but cannot be
// read fails closed: every cookie issued before the start is refused.
type sessions struct {
	token []byte
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger
	file  string // "" keeps revocations in memory

	mu      sync.Mutex
	revoked map[string]int64 // nonce -> the cookie's expiry (unix seconds)
	// minExpiry, when the revocation file could not be read, refuses every
	// cookie expiring before it (all those issued before the start).
	minExpiry int64
}

func newSessions(token string, ttl time.Duration, now func() time.Time, dataDir string, log *slog.Logger) *sessions {
	s := &sessions{token: []byte(token), ttl: ttl, now: now, log: log, revoked: map[string]int64{}}
	if dataDir == "" {
		return s
	}
	s.file = filepath.Join(dataDir, RevokedFile)
	data, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return s
	}
	if err == nil {
		err = json.Unmarshal(data, &s.revoked)
	}
	if err != nil {
		s.revoked = map[string]int64{}
		s.minExpiry = now().Add(ttl).Unix()
		log.Error("gallery: revoked sessions unreadable; refusing every session issued before now", "file", s.file, "error", err)
	}
	return s
}

func (s *sessions) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.token)
	m.Write([]byte(sessionPurpose + payload))
	return m.Sum(nil)
}

func (s *sessions) issue() (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("session nonce: %w", err)
	}
	payload := strconv.FormatInt(s.now().Add(s.ttl).Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(nonce)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// session returns the nonce and expiry of the request's cookie when it is
// one this token issued, unexpired and not revoked; the MAC is compared in
// constant time.
func (s *sessions) session(r *http.Request) (nonce string, expiry int64, ok bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", 0, false
	}
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 {
		return "", 0, false
	}
	payload, sig := c.Value[:i], c.Value[i+1:]
	exp, nonce, found := strings.Cut(payload, ".")
	if !found || nonce == "" {
		return "", 0, false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return "", 0, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return "", 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.revoked[nonce]; gone || unix < s.minExpiry {
		return "", 0, false
	}
	return nonce, unix, true
}

func (s *sessions) valid(r *http.Request) bool {
	_, _, ok := s.session(r)
	return ok
}

// revoke refuses the session from now on, persisting the set when there is
// a data dir.
func (s *sessions) revoke(nonce string, expiry int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for n, exp := range s.revoked {
		if exp <= now {
			delete(s.revoked, n)
		}
	}
	s.revoked[nonce] = expiry
	if s.file == "" {
		return nil
	}
	data, err := json.Marshal(s.revoked)
	if err != nil {
		return fmt.Errorf("encode revoked sessions: %w", err)
	}
	return writeFileAtomic(s.file, data)
}

// writeFileAtomic replaces path with data, mode 0600, so a crash leaves the
// old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-revoked-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing there
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tokenMatches compares a submitted token with the configured one in constant
// time, digests first so not even the length leaks through timing.
func (s *sessions) tokenMatches(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(s.token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// cookie builds the session cookie (or, with an empty value, its deletion).
// HttpOnly keeps it from scripts, SameSite=Strict from other sites' requests;
// Secure is set whenever the browser reached us over HTTPS, including through
// a TLS-terminating proxy, and left off on plain-HTTP loopback development
// where a Secure cookie would never come back.
func cookie(r *http.Request, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: cookieName, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		// Max-Age rather than Expires: relative, so a browser with a skewed
		// clock keeps the cookie as long as the MAC inside stays valid.
		c.MaxAge = int(ttl / time.Second)
	}
	return c
}

type loginData struct {
	CSS   template.CSS
	Wrong bool
}

func (g *gallery) loginForm(w http.ResponseWriter, r *http.Request) {
	if g.sessions == nil || g.sessions.valid(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	g.render(w, r, http.StatusOK, "login.html", loginData{CSS: g.css})
}

// maxLoginBody bounds the login form: a token field and little else.
const maxLoginBody = 4 << 10

func (g *gallery) login(w http.ResponseWriter, r *http.Request) {
	if g.sessions == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if g.limiter.Blocked(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad login form", http.StatusBadRequest)
		return
	}
	if !g.sessions.tokenMatches(r.PostForm.Get("token")) {
		// Counted (and logged in summaries) without the submitted value:
		// it may be a near-miss of the real token.
		if g.limiter != nil {
			g.limiter.Failed(r)
		} else {
			g.log.InfoContext(r.Context(), "gallery login refused", "remote", r.RemoteAddr)
		}
		g.render(w, r, http.StatusUnauthorized, "login.html", loginData{CSS: g.css, Wrong: true})
		return
	}
	value, err := g.sessions.issue()
	if err != nil {
		g.log.ErrorContext(r.Context(), "gallery login", "error", err)
		http.Error(w, "cannot start a session, try again", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, cookie(r, value, g.sessions.ttl))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (g *gallery) logout(w http.ResponseWriter, r *http.Request) {
	if g.sessions != nil {
		if nonce, exp, ok := g.sessions.session(r); ok {
			if err := g.sessions.revoke(nonce, exp); err != nil {
				// Refused in this process from now on, but a restart
				// would accept the cookie again: say so, do not pretend.
				g.log.ErrorContext(r.Context(), "gallery logout: revocation not saved", "error", err)
				http.Error(w, "logged out here, but the logout could not be saved; try again", http.StatusInternalServerError)
				return
			}
		}
	}
	http.SetCookie(w, cookie(r, "", 0))
	target := "/login"
	if g.sessions == nil {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
