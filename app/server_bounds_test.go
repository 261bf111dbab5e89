package app_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/gallery"
)

// The bounds are short here so the test does not wait long; the outcomes
// asserted (an answer or a closed connection, data received or not) do not
// depend on how fast the machine is.
const (
	testBodyTimeout  = 150 * time.Millisecond
	testWriteTimeout = 150 * time.Millisecond
	pastTheBounds    = 3 * testWriteTimeout
)

func boundedServer(t *testing.T) *app.Server {
	t.Helper()
	srv := app.NewServer(app.ServerOptions{Addr: "127.0.0.1:0", BodyReadTimeout: testBodyTimeout, WriteTimeout: testWriteTimeout})
	gal := gallery.New(gallery.Options{AuthToken: "bounds-test-token-0123456789abcdef"})
	routes := map[string]http.Handler{}
	for _, p := range gallery.Patterns() {
		routes[p] = gal
	}
	// A route that writes part of its answer, then the rest too late.
	routes["GET /slow-answer"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		time.Sleep(pastTheBounds)
		io.WriteString(w, "second\n")
	})
	srv.Mount(routes)
	// A stream, like a blocking tool call: reads its body, then answers
	// in parts for longer than both bounds.
	srv.MountStreams(map[string]http.Handler{
		"POST /stream": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
				return
			}
			rc := http.NewResponseController(w)
			io.WriteString(w, "got "+string(body)+"\n")
			rc.Flush()
			time.Sleep(pastTheBounds)
			if err := r.Context().Err(); err != nil {
				io.WriteString(w, "context ended: "+err.Error()+"\n")
				return
			}
			io.WriteString(w, "still here\n")
			rc.Flush()
			time.Sleep(pastTheBounds)
			io.WriteString(w, "done\n")
		}),
	})
	if err := srv.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// trickle sends a request's headers and the start of a body it promises to
// be longer, then nothing more, and returns what the server does: its
// answer's status line, or the error that closed the connection. A hang
// fails the test (the guard deadline is far beyond any bound).
func trickle(t *testing.T, addr, head string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"Content-Length: 1000\r\n\r\ntoken=abc"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still holds a trickled body open after 60 s (bound %v)", testBodyTimeout)
	}
	if err != nil {
		return "closed: " + err.Error()
	}
	return strings.TrimSpace(line)
}

func TestSlowBodiesAreCutOffOnEveryRoute(t *testing.T) {
	srv := boundedServer(t)
	tests := []struct {
		name, head string
		want       []string // any of these outcomes
	}{
		{"gallery login", "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
			[]string{"HTTP/1.1 400", "closed:"}},
		{"stream route", "POST /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n",
			[]string{"HTTP/1.1 400", "closed:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trickle(t, srv.Addr(), tt.head)
			for _, w := range tt.want {
				if strings.HasPrefix(got, w) {
					return
				}
			}
			t.Errorf("trickled body: server answered %q, want one of %q", got, tt.want)
		})
	}
}

func TestStreamsOutliveTheBoundsAndOtherAnswersDoNot(t *testing.T) {
	srv := boundedServer(t)
	t.Run("a stream with a body keeps its context and writes past both bounds", func(t *testing.T) {
		resp, err := http.Post(srv.URL()+"/stream", "text/plain", strings.NewReader("ping"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "got ping\nstill here\ndone\n" {
			t.Fatalf("stream = %d %q, %v; want every part", resp.StatusCode, body, err)
		}
	})
	t.Run("an ordinary answer is cut at the write bound", func(t *testing.T) {
		resp, err := http.Get(srv.URL() + "/slow-answer")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil || strings.Contains(string(body), "second") {
			t.Fatalf("slow answer = %q, %v; want it cut off after %q", body, err, "first")
		}
	})
}
