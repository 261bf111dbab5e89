package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/imagegen/imagegen/app"
	"github.com/imagegen/imagegen/cmd/imagegen/config"
)

// A desktop client configured with nothing but `imagegen stdio` must just
// work. Unless TEMPORAL_ADDRESS names a Temporal to use, stdio uses the
// `imagegen dev` stack whose files are in the data dir (by default the
// user's data directory): it joins the stack when it runs, and otherwise
// starts it as a background process of its own, so that closing one client
// never stops the stack under the others. A lock file makes concurrent
// clients start it once.

// stackFile remembers the HTTP address of the background stack, so that it
// listens on the same port every time (local image URLs embed it).
const stackFile = "stdio-stack.json"

// stackStartTimeout bounds how long a client waits for the stack to come up.
const stackStartTimeout = 2 * time.Minute

type stackInfo struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid,omitempty"`
}

// userDataDir is where a desktop client's stack keeps its data: the
// platform's per-user data directory.
func userDataDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "imagegen"), nil
		}
	case "darwin":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "imagegen"), nil
		}
	default:
		if d := getenv("XDG_DATA_HOME"); d != "" {
			return filepath.Join(d, "imagegen"), nil
		}
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".local", "share", "imagegen"), nil
		}
	}
	return "", errors.New("stdio: no user data directory (HOME is unset): set IMAGEGEN_DATA_DIR")
}

// ensureStack returns cfg pointed at a running dev stack: the one whose files
// are in cfg.DataDir when it answers, else one it starts in the background.
func ensureStack(ctx context.Context, cfg config.Config, log *slog.Logger) (config.Config, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return cfg, err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cfg, fmt.Errorf("stdio: create data dir %s: %w", dir, err)
	}
	if addr, ui, ok := runningStack(ctx, cfg); ok {
		log.Info("joining the running imagegen stack", "temporal", addr, "data_dir", dir)
		return withStack(cfg, addr, ui), nil
	}

	unlock, err := lockFile(ctx, filepath.Join(dir, "stdio-stack.lock"))
	if err != nil {
		return cfg, err
	}
	defer unlock()
	// Another client may have started it while we waited for the lock.
	if addr, ui, ok := runningStack(ctx, cfg); ok {
		return withStack(cfg, addr, ui), nil
	}
	info := loadStackInfo(dir)
	if info.Addr == "" || !portFree(info.Addr) {
		if info.Addr, err = freeAddr(); err != nil {
			return cfg, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return cfg, fmt.Errorf("stdio: find the imagegen executable: %w", err)
	}
	logPath := filepath.Join(dir, "stdio-stack.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return cfg, fmt.Errorf("stdio: open %s: %w", logPath, err)
	}
	defer logFile.Close()
	// Port 0: the ports remembered in the data dir, else free ones (then
	// remembered): the same ports on every start, and no clash with an
	// `imagegen dev` a user runs on the default ports.
	cmd := exec.Command(exe, "dev", "--data-dir", dir, "--addr", info.Addr, "--temporal-port", "0", "--ui-port", "0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return cfg, fmt.Errorf("stdio: start the imagegen stack: %w", err)
	}
	info.PID = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := saveStackInfo(dir, info); err != nil {
		return cfg, err
	}
	log.Info("started the imagegen stack in the background", "pid", info.PID, "http", info.Addr, "data_dir", dir, "log", logPath)

	wctx, cancel := context.WithTimeout(ctx, stackStartTimeout)
	defer cancel()
	for {
		if addr, ui, ok := runningStack(wctx, cfg); ok {
			return withStack(cfg, addr, ui), nil
		}
		select {
		case err := <-exited:
			return cfg, fmt.Errorf("stdio: the imagegen stack exited at start (%v): see %s", err, logPath)
		case <-wctx.Done():
			return cfg, fmt.Errorf("stdio: the imagegen stack did not come up within %s: see %s", stackStartTimeout, logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func withStack(cfg config.Config, addr, ui string) config.Config {
	cfg.TemporalAddress = addr
	if cfg.TemporalUIURL == "" {
		cfg.TemporalUIURL = ui
	}
	return cfg
}

// runningStack reports the frontend address of the dev stack of cfg.DataDir
// when it answers with the data dir's secret.
func runningStack(ctx context.Context, cfg config.Config) (addr, ui string, ok bool) {
	port, ok := rememberedFrontend(cfg.DataDir)
	if !ok {
		return "", "", false
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", "", false
	}
	conn.Close()
	probe := cfg
	probe.TemporalAddress = addr
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	opts, err := probe.Defaults().Options(slog.New(slog.DiscardHandler))
	if err != nil {
		return "", "", false
	}
	_, closeClient, err := app.ConnectJobs(pctx, opts)
	if err != nil {
		return "", "", false
	}
	closeClient()
	return addr, app.DevUIURL(cfg.DataDir, addr), true
}

// rememberedFrontend reads the frontend port the dev stack of dataDir saved.
func rememberedFrontend(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "temporal", "ports.json"))
	if err != nil {
		return 0, false
	}
	var p struct {
		Frontend int `json:"frontend"`
	}
	if json.Unmarshal(b, &p) != nil || p.Frontend == 0 {
		return 0, false
	}
	return p.Frontend, true
}

func loadStackInfo(dir string) stackInfo {
	var info stackInfo
	if b, err := os.ReadFile(filepath.Join(dir, stackFile)); err == nil {
		_ = json.Unmarshal(b, &info)
	}
	return info
}

func saveStackInfo(dir string, info stackInfo) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, stackFile), b, 0o600); err != nil {
		return fmt.Errorf("stdio: save %s: %w", stackFile, err)
	}
	return nil
}

func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("stdio: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
