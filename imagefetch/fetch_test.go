package imagefetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen"
)

// secret rides in every URL's query: no error or log line may repeat it.
const secret = "sig=SECRET-TOKEN-4711"

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// imageServer serves the cases of the fetch tests on loopback. Handlers
// that stall wait for the request's end or the test's, never for a clock.
func imageServer(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	img := pngBytes(t, 16, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/image.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	})
	mux.HandleFunc("/mislabeled", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain") // the bytes are a PNG
		w.Write(img)
	})
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png") // the bytes are not
		fmt.Fprint(w, "<!DOCTYPE html><html><body>not an image</body></html>")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// Chunked, no Content-Length: only the read cap can stop it.
		w.Write(img)
		w.(http.Flusher).Flush()
		chunk := bytes.Repeat([]byte{0}, 4096)
		for i := 0; i < 64; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/big-length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(10<<20))
		w.Write(img) // the client must refuse on the header alone
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(img)))
		w.Write(img[:8])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetLinger(0) // RST instead of FIN
		}
		conn.Close()
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/hops/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hops/"))
		if n == 0 {
			w.Write(img)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hops/%d?%s", n-1, secret), http.StatusMovedPermanently)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

// loopbackOnly allows the test server's address and nothing else.
func loopbackOnly(t *testing.T, srv *httptest.Server) Policy {
	t.Helper()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return Policy{Allow: []netip.Prefix{netip.PrefixFrom(ap.Addr(), 32)}}
}

func TestFetch(t *testing.T) {
	srv := imageServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	base := srv.URL
	at := func(path string) string { return base + path + "?" + secret }
	redirect := func(to string) string { return base + "/redirect?to=" + url.QueryEscape(to) + "&" + secret }
	allowed := loopbackOnly(t, srv)
	for _, tc := range []struct {
		name    string
		policy  Policy
		url     string
		kind    imagegen.ErrorKind // "" = success
		says    string
		timeout time.Duration
	}{
		{name: "an image from an allowed host arrives", policy: allowed, url: at("/image.png")},
		{name: "the type comes from the bytes, not the header", policy: allowed, url: at("/mislabeled")},
		{name: "a bounded redirect chain is followed", policy: allowed, url: at("/hops/3")},
		{name: "the IPv4-mapped literal of an allowed address is allowed", policy: allowed,
			url: fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/image.png?%s", port, secret)},

		{name: "loopback is refused without an allow-list", url: at("/image.png"),
			kind: imagegen.KindInvalidInput, says: "127.0.0.1 is a loopback address"},
		{name: "a name resolving to loopback is refused at the dial", url: fmt.Sprintf("http://localhost:%d/image.png?%s", port, secret),
			kind: imagegen.KindInvalidInput, says: "localhost resolves to a loopback address"},
		{name: "the IPv4-mapped literal of loopback is refused", url: fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/image.png?%s", port, secret),
			kind: imagegen.KindInvalidInput, says: "loopback"},
		{name: "another loopback address than the allowed one is refused", policy: allowed,
			url: fmt.Sprintf("http://127.0.0.2:%d/image.png?%s", port, secret), kind: imagegen.KindInvalidInput, says: "loopback"},
		// Refused in the dialer's Control, before connect: nothing is sent.
		{name: "a private 10.x address is refused", url: "http://10.0.0.1/image.png?" + secret,
			kind: imagegen.KindInvalidInput, says: "10.0.0.1 is a private network address"},
		{name: "the cloud metadata address is refused", url: "http://169.254.169.254/latest/meta-data/?" + secret,
			kind: imagegen.KindInvalidInput, says: "link-local"},
		{name: "a redirect to a private address is refused", policy: allowed, url: redirect("http://10.0.0.1/x.png?" + secret),
			kind: imagegen.KindInvalidInput, says: "redirected to 10.0.0.1, which is a private network address"},
		{name: "a redirect to the metadata address is refused", policy: allowed, url: redirect("http://169.254.169.254/latest/?" + secret),
			kind: imagegen.KindInvalidInput, says: "link-local"},
		{name: "a redirect to a file URL is refused", policy: allowed, url: redirect("file:///etc/passwd"),
			kind: imagegen.KindInvalidInput, says: `redirected to a URL that has the scheme "file"`},
		{name: "a redirect to an ftp URL is refused", policy: allowed, url: redirect("ftp://example.com/x.png"),
			kind: imagegen.KindInvalidInput, says: `"ftp"`},
		{name: "a redirect carrying credentials is refused", policy: allowed, url: redirect("http://user:pw@example.com/x.png"),
			kind: imagegen.KindInvalidInput, says: "user name or password"},
		{name: "too many redirects are refused", policy: allowed, url: at("/hops/4"),
			kind: imagegen.KindInvalidInput, says: "redirected more than 3 times"},

		{name: "a non-http scheme is refused", url: "ftp://example.com/x.png",
			kind: imagegen.KindInvalidInput, says: `scheme "ftp"`},
		{name: "a file URL is refused", url: "file:///etc/passwd", kind: imagegen.KindInvalidInput, says: `scheme "file"`},
		{name: "a relative URL is refused", url: "/image.png", kind: imagegen.KindInvalidInput, says: "not absolute"},
		{name: "credentials in the URL are refused", policy: allowed, url: strings.Replace(at("/image.png"), "http://", "http://user:pw@", 1),
			kind: imagegen.KindInvalidInput, says: "user name or password"},
		{name: "an overlong URL is refused", url: "https://example.com/" + strings.Repeat("a", MaxURLLength),
			kind: imagegen.KindInvalidInput, says: "characters long"},

		{name: "an oversize body is cut off and refused", policy: allowed, url: at("/big"),
			kind: imagegen.KindInvalidInput, says: "larger than the limit of 64 KiB"},
		{name: "an oversize Content-Length is refused up front", policy: allowed, url: at("/big-length"),
			kind: imagegen.KindInvalidInput, says: "is 10485760 bytes, more than"},
		{name: "HTML is not an image, whatever its header says", policy: allowed, url: at("/page.html"),
			kind: imagegen.KindInvalidInput, says: "not a PNG, JPEG or WebP image (the body looks like text/html)"},
		{name: "an empty body is not an image", policy: allowed, url: at("/empty"),
			kind: imagegen.KindInvalidInput, says: "an empty body"},
		{name: "404 is invalid input", policy: allowed, url: at("/status/404"),
			kind: imagegen.KindInvalidInput, says: "HTTP 404 Not Found"},
		{name: "403 is invalid input", policy: allowed, url: at("/status/403"),
			kind: imagegen.KindInvalidInput, says: "HTTP 403"},
		{name: "204 is not an image", policy: allowed, url: at("/status/204"),
			kind: imagegen.KindInvalidInput, says: "HTTP 204"},
		{name: "503 is retryable", policy: allowed, url: at("/status/503"),
			kind: imagegen.KindUpstream, says: "HTTP 503"},
		{name: "429 is retryable", policy: allowed, url: at("/status/429"),
			kind: imagegen.KindUpstream, says: "HTTP 429"},
		{name: "a reset connection is retryable", policy: allowed, url: at("/reset"),
			kind: imagegen.KindUpstream, says: "connection failed"},
		{name: "a server that never answers hits the deadline", policy: allowed, url: at("/stall"), timeout: 200 * time.Millisecond,
			kind: imagegen.KindTimeout, says: "did not arrive within 200ms"},
		{name: "a body that stalls hits the deadline", policy: allowed, url: at("/stall-body"), timeout: 200 * time.Millisecond,
			kind: imagegen.KindTimeout, says: "did not arrive within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			f := New(Options{Policy: tc.policy, MaxBytes: 64 << 10, Timeout: tc.timeout,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			data, kind, err := f.Fetch(context.Background(), tc.url)
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "SECRET-TOKEN") {
					t.Errorf("error chain repeats the query string: %v", e)
				}
			}
			if strings.Contains(logs.String(), "SECRET-TOKEN") {
				t.Errorf("log repeats the query string: %s", logs.String())
			}
			if tc.kind == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if kind != "image/png" || imagegen.SniffImageType(data) != "image/png" {
					t.Fatalf("Fetch = %d bytes of %q, want the PNG", len(data), kind)
				}
				return
			}
			var ie *imagegen.Error
			if !errors.As(err, &ie) {
				t.Fatalf("Fetch error = %v (%T), want an *imagegen.Error", err, err)
			}
			if ie.Kind != tc.kind || !strings.Contains(ie.Message, tc.says) {
				t.Fatalf("Fetch error = %v, want kind %s saying %q", err, tc.kind, tc.says)
			}
			if data != nil {
				t.Errorf("Fetch returned %d bytes with its error", len(data))
			}
		})
	}
}

func TestFetchLogsARefusalWithoutTheQuery(t *testing.T) {
	srv := imageServer(t)
	var logs bytes.Buffer
	f := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, _, err := f.Fetch(context.Background(), srv.URL+"/image.png?"+secret)
	if imagegen.KindOf(err) != imagegen.KindInvalidInput {
		t.Fatalf("Fetch = %v, want a refusal", err)
	}
	if !strings.Contains(logs.String(), "input image fetch refused") || !strings.Contains(logs.String(), "host=127.0.0.1") {
		t.Fatalf("log = %q, want one refusal line naming the host", logs.String())
	}
}

func TestFetchGivesUpWhenTheCallerDoes(t *testing.T) {
	srv := imageServer(t)
	f := New(Options{Policy: loopbackOnly(t, srv)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := f.Fetch(ctx, srv.URL+"/image.png")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a canceled context = %v, want context.Canceled", err)
	}
}

func TestFetchReportsTheCallersDeadlineAsATimeout(t *testing.T) {
	srv := imageServer(t)
	f := New(Options{Policy: loopbackOnly(t, srv)}) // its own deadline: 30 s
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := f.Fetch(ctx, srv.URL+"/stall")
	if imagegen.KindOf(err) != imagegen.KindTimeout || !strings.Contains(err.Error(), "did not arrive in time") {
		t.Fatalf("Fetch past the caller's deadline = %v, want a timeout", err)
	}
}

func TestFetchOverHTTPSChecksTheCertificate(t *testing.T) {
	img := pngBytes(t, 4, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	policy := loopbackOnly(t, srv)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	if _, _, err := New(Options{Policy: policy}).Fetch(context.Background(), srv.URL+"/x.png"); imagegen.KindOf(err) != imagegen.KindInvalidInput ||
		!strings.Contains(err.Error(), "no valid TLS certificate") {
		t.Fatalf("Fetch from an untrusted certificate = %v, want invalid input naming the certificate", err)
	}
	data, kind, err := New(Options{Policy: policy, RootCAs: pool}).Fetch(context.Background(), srv.URL+"/x.png")
	if err != nil || kind != "image/png" || !bytes.Equal(data, img) {
		t.Fatalf("Fetch with the server's CA = %d bytes, %q, %v; want the PNG", len(data), kind, err)
	}
}
