package devserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/labstack/echo/v4"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiapi "github.com/temporalio/ui-server/v2/server/api"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"google.golang.org/grpc/metadata"

	"github.com/imagegen/imagegen/internal/httpguard"
)

// guardHeader carries a per-process random value from the guard proxy to the
// UI server. Only requests that carry it get the frontend secret attached,
// so the UI server's own (unguarded) loopback port is useless to anyone who
// finds it, DNS-rebound pages included.
const guardHeader = "X-Imagegen-Ui-Guard"

// startUI runs the Web UI behind a guard. The ui-server listens on a private
// loopback port; the public UI port is a reverse proxy in front of it that
// refuses foreign Host headers (DNS rebinding) and state-changing requests
// from foreign origins, then marks the request for the credentials.
//
// ui-server's Start blocks and calls its logger's Fatal (exiting the
// process) if it cannot bind, which is why its port is held by a probe
// listener until just before that call.
func (s *Server) startUI(opts Options, port int) (err error) {
	defer func() {
		// NewServer panics on a bad config; keep that inside Start's error.
		if r := recover(); r != nil {
			err = fmt.Errorf("web ui: %v", r)
		}
	}()
	public, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("web ui: %w", err)
	}
	probe, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		_ = public.Close()
		return fmt.Errorf("web ui backend: %w", err)
	}
	backendPort := probe.Addr().(*net.TCPAddr).Port
	mark := make([]byte, 32)
	if _, err := rand.Read(mark); err != nil {
		_ = public.Close()
		_ = probe.Close()
		return fmt.Errorf("web ui: %w", err)
	}
	s.uiMark = base64.RawURLEncoding.EncodeToString(mark)

	ui := uiserver.NewServer(
		uiserveroptions.WithAPIMiddleware([]uiapi.Middleware{s.uiCredentials}),
		uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                loopback,
			Port:                backendPort,
			TemporalGRPCAddress: s.frontendAddr,
			EnableUI:            true,
			DefaultNamespace:    s.namespace,
			// Plain http on loopback: secure cookies would never be sent back.
			CORS:             uiconfig.CORS{CookieInsecure: true},
			HideLogs:         true,
			DisableNewsFetch: true, // no outbound calls from a dev tool
		}))
	_ = probe.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Start returns nil after Stop; it has no other useful error.
		_ = ui.Start()
	}()
	s.ui = ui
	s.uiDone = done

	backend := &url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(backendPort))}
	s.uiBackend = backend.Host
	guard := httpguard.NewStrict(opts.UIAllowedHosts...)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host // the UI builds its links from it
			r.Out.Header.Set(guardHeader, s.uiMark)
			// The UI skips its CSRF check for requests with an
			// Authorization header; none are needed here.
			r.Out.Header.Del("Authorization")
		},
	}
	s.uiGuard = &http.Server{
		Handler:           guard.Host(uiSameOrigin(guard, proxy)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.uiGuardDone = make(chan struct{})
	go func() {
		defer close(s.uiGuardDone)
		if err := s.uiGuard.Serve(public); err != nil && !errors.Is(err, http.ErrServerClosed) && opts.Logger != nil {
			opts.Logger.Error("web ui guard stopped", "error", err)
		}
	}()
	s.uiAddr = "http://" + net.JoinHostPort(dialHost(opts.Host), strconv.Itoa(port))
	return nil
}

// uiSameOrigin refuses any request a foreign origin sends, reads included:
// the UI never needs cross-origin calls, and refusing them before the UI's
// CORS layer keeps its answers away from other sites altogether.
func uiSameOrigin(g httpguard.Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.OriginAllowed(r) {
			http.Error(w, "Forbidden: cross-origin request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// uiCredentials makes the UI's calls to the frontend carry the secret, for
// requests that came through the guard. It is gRPC metadata added after the
// browser's headers, and it leaves the UI's own CSRF check in place.
func (s *Server) uiCredentials(c echo.Context) runtime.ServeMuxOption {
	got := c.Request().Header.Get(guardHeader)
	guarded := got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.uiMark)) == 1
	return runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD {
		if !guarded {
			return nil
		}
		return metadata.Pairs("authorization", "Bearer "+s.secret)
	})
}

// stopUI stops the guard, then the UI server.
func (s *Server) stopUI(deadline <-chan time.Time) []error {
	var errs []error
	if s.uiGuard != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.uiGuard.Shutdown(ctx); err != nil {
			_ = s.uiGuard.Close()
		}
		cancel()
		<-s.uiGuardDone
	}
	if s.ui != nil {
		s.ui.Stop()
		select {
		case <-s.uiDone:
		case <-deadline:
			errs = append(errs, errors.New("web ui still running after stop timeout"))
		}
	}
	return errs
}
