package gallery

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cookieName is the gallery's session cookie.
const cookieName = "imagegen_session"

// sessionPurpose separates the gallery's MACs from any other use of the token
// as a key.
const sessionPurpose = "imagegen gallery session v1\x00"

// sessions issues and checks login cookies without server-side state, so any
// replica behind a load balancer accepts a cookie another one issued.
//
// A cookie is "<expiry unix seconds>.<HMAC-SHA256(token, purpose+expiry)>":
// it proves its holder knew the token, it expires on its own, it carries
// nothing secret (the MAC does not reveal the token), and changing the token
// invalidates every cookie at once.
type sessions struct {
	token []byte
	ttl   time.Duration
	now   func() time.Time
}

func (s *sessions) mac(expiry string) []byte {
	m := hmac.New(sha256.New, s.token)
	m.Write([]byte(sessionPurpose + expiry))
	return m.Sum(nil)
}

func (s *sessions) issue() string {
	exp := strconv.FormatInt(s.now().Add(s.ttl).Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(s.mac(exp))
}

// valid reports whether the request carries an unexpired cookie this token
// issued; the MAC is compared in constant time.
func (s *sessions) valid(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	exp, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(exp))
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
	http.SetCookie(w, cookie(r, g.sessions.issue(), g.sessions.ttl))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (g *gallery) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, cookie(r, "", 0))
	target := "/login"
	if g.sessions == nil {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
