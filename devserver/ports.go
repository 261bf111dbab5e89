package devserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// portsFileName is where a file-backed server remembers its ports. Restarting
// on the same database with different ports within ~20 s stalls the first
// workflow dispatch for about a minute (the old hosts' rows are still
// considered live), so a restart reuses the ports of the previous run.
const portsFileName = "ports.json"

// ports are the TCP ports one server instance listens on. History, matching,
// worker and the internal frontend are internal services, reachable on
// loopback only and only with the process's internode client certificate.
type ports struct {
	Frontend int `json:"frontend"`
	// InternalFrontend serves the server's own system workers (mTLS, on
	// loopback only).
	InternalFrontend int `json:"internal_frontend"`
	History          int `json:"history"`
	Matching         int `json:"matching"`
	Worker           int `json:"worker"`
	UI               int `json:"ui,omitempty"` // 0 when the UI is disabled
}

// loadPorts reads the ports remembered in dataDir; a missing or unreadable
// file yields zero ports (pick fresh ones), since it is only an optimisation.
func loadPorts(dataDir string) ports {
	var p ports
	if dataDir == "" {
		return p
	}
	b, err := os.ReadFile(filepath.Join(dataDir, portsFileName))
	if err != nil {
		return p
	}
	if json.Unmarshal(b, &p) != nil {
		return ports{}
	}
	return p
}

// savePorts remembers p in dataDir, atomically so a crash never leaves a
// half-written file behind.
func savePorts(dataDir string, p ports) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ports: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, portsFileName+".*")
	if err != nil {
		return fmt.Errorf("save ports: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("save ports: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save ports: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, portsFileName)); err != nil {
		return fmt.Errorf("save ports: %w", err)
	}
	return nil
}

// PortInUseError reports that a port the caller asked for explicitly (the
// frontend's or the UI's) cannot be bound.
type PortInUseError struct {
	// Service is "frontend" or "ui".
	Service string
	Host    string
	Port    int
	Err     error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s port %d on %s is not available: %v", e.Service, e.Port, e.Host, e.Err)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// portPicker hands out free ports. It keeps every probe listener open until
// released, so ports picked in one go are distinct (the kernel may otherwise
// return the same ephemeral port twice) and nobody else takes them before the
// server binds them.
type portPicker struct {
	held map[int]net.Listener
}

// pick returns a free port on host: want if it is set and free, else a fresh
// one chosen by the kernel (bind to port 0). strict makes a busy want an error
// instead of a fallback, for ports the caller asked for explicitly.
func (pp *portPicker) pick(host string, want int, strict bool) (int, error) {
	if pp.held == nil {
		pp.held = make(map[int]net.Listener)
	}
	if want > 0 {
		if _, dup := pp.held[want]; !dup {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(want)))
			if err == nil {
				pp.held[want] = l
				return want, nil
			}
			if strict {
				return 0, &PortInUseError{Port: want, Host: host, Err: err}
			}
		} else if strict {
			return 0, fmt.Errorf("port %d is used twice", want)
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	pp.held[port] = l
	return port, nil
}

// releaseExcept closes the probe listeners of all ports but keep. Go
// listeners set SO_REUSEADDR, so the server can bind them right after.
func (pp *portPicker) releaseExcept(keep int) {
	for port, l := range pp.held {
		if port != keep {
			_ = l.Close()
			delete(pp.held, port)
		}
	}
}

// release closes every remaining probe listener.
func (pp *portPicker) release() { pp.releaseExcept(0) }

// choosePorts decides every port of this run. An explicit Options port wins;
// otherwise the port remembered in the data dir is reused when still free,
// else a fresh one is picked.
func choosePorts(pp *portPicker, opts Options, remembered ports) (ports, error) {
	var (
		p   ports
		err error
	)
	if opts.Port > 0 {
		p.Frontend, err = pp.pick(opts.Host, opts.Port, true)
		setService(err, "frontend")
	} else {
		p.Frontend, err = pp.pick(opts.Host, remembered.Frontend, false)
	}
	if err != nil {
		return ports{}, fmt.Errorf("frontend: %w", err)
	}
	for _, it := range []struct {
		dst  *int
		host string
		want int
		name string
	}{
		{&p.InternalFrontend, loopback, remembered.InternalFrontend, "internal frontend"},
		{&p.History, loopback, remembered.History, "history"},
		{&p.Matching, loopback, remembered.Matching, "matching"},
		{&p.Worker, loopback, remembered.Worker, "worker"},
	} {
		if *it.dst, err = pp.pick(it.host, it.want, false); err != nil {
			return ports{}, fmt.Errorf("%s: %w", it.name, err)
		}
	}
	switch {
	case opts.UIPort > 0:
		p.UI, err = pp.pick(opts.Host, opts.UIPort, true)
		setService(err, "ui")
	case opts.UIPort == 0:
		p.UI, err = pp.pick(opts.Host, remembered.UI, false)
	}
	if err != nil {
		return ports{}, fmt.Errorf("ui: %w", err)
	}
	return p, nil
}

// setService names the service of a PortInUseError.
func setService(err error, service string) {
	var pe *PortInUseError
	if errors.As(err, &pe) {
		pe.Service = service
	}
}

// fileExists reports whether path exists; errors other than "not found"
// count as existing so a permission problem surfaces when the file is opened
// rather than as a silently re-created schema.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// RememberedUI returns the Web UI address ("http://127.0.0.1:PORT") of the
// server whose files are in dataDir, when that server's remembered frontend
// port is the one in frontendAddr and it ran a UI; "" otherwise. Operator
// commands use it to link jobs to the UI of an `imagegen dev` on non-default
// ports.
func RememberedUI(dataDir, frontendAddr string) string {
	_, port, err := net.SplitHostPort(frontendAddr)
	if err != nil {
		return ""
	}
	p := loadPorts(dataDir)
	if p.UI == 0 || strconv.Itoa(p.Frontend) != port {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p.UI))
}
