// Package cluster runs Gatehouse as several replicas on one PostgreSQL
// behind nginx, as real processes on the loopback interface: the
// multi-process test (cmd/gatehouse) and the load script's cluster mode
// (cmd/loadtest) both start one with it. PostgreSQL itself is the caller's
// (store/pgtest).
package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config says what to start.
type Config struct {
	// Bin is the gatehouse binary; Env is added to its environment (a test
	// binary that stands in for it says so there).
	Bin string
	Env []string
	// Replicas is how many serve processes to start.
	Replicas int
	// Database is the PostgreSQL URL every replica and command uses.
	Database string
	// Dir holds the key file all replicas share (gatehouse.key, made when
	// missing), each replica's data directory and log, and nginx's files.
	Dir string
	// Demo fills an empty database with the demo data.
	Demo bool
	// LogLevel is the replicas' log level (default warn).
	LogLevel string
}

// Cluster is the running replicas and the load balancer in front.
type Cluster struct {
	Config
	KeyFile  string
	Replicas []*Replica
	LB       *Nginx
}

// Start writes one key file for all, starts the replicas one after another
// (the first migrates the database and, with Demo, fills it) and nginx in
// front of them, each ready before Start returns.
func Start(cfg Config) (*Cluster, error) {
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	c := &Cluster{Config: cfg, KeyFile: filepath.Join(cfg.Dir, "gatehouse.key")}
	if _, err := os.Stat(c.KeyFile); errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(c.KeyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Replicas {
		addr, err := freeAddr()
		if err != nil {
			c.Stop()
			return nil, err
		}
		r := &Replica{N: i + 1, Addr: addr, c: c, data: filepath.Join(cfg.Dir, fmt.Sprintf("replica%d", i+1))}
		if err := os.MkdirAll(r.data, 0o700); err != nil {
			c.Stop()
			return nil, err
		}
		c.Replicas = append(c.Replicas, r)
		if err := r.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	lb, err := startNginx(filepath.Join(cfg.Dir, "nginx"), c.upstreams())
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.LB = lb
	return c, nil
}

func (c *Cluster) upstreams() []string {
	var out []string
	for _, r := range c.Replicas {
		out = append(out, r.Addr)
	}
	return out
}

// Stop stops nginx and the replicas.
func (c *Cluster) Stop() {
	if c.LB != nil {
		c.LB.Stop()
	}
	for _, r := range c.Replicas {
		r.Stop()
	}
}

// Command runs a gatehouse command (account list, token create, audit
// verify…) against the cluster's database and returns its output.
func (c *Cluster) Command(args ...string) (string, error) {
	cmd := exec.Command(c.Bin, append(args, "--data", c.Dir, "--database", c.Database)...) // the key file is DIR/gatehouse.key
	cmd.Env = append(os.Environ(), c.Env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("gatehouse %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// Replica is one gatehouse serve process.
type Replica struct {
	N    int
	Addr string
	c    *Cluster
	data string

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// URL is the replica's base URL, without the load balancer.
func (r *Replica) URL() string { return "http://" + r.Addr }

// Pid is the process id of the replica, 0 when it is not running.
func (r *Replica) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// LogPath is the file the replica's output goes to.
func (r *Replica) LogPath() string { return filepath.Join(r.c.Dir, fmt.Sprintf("replica%d.log", r.N)) }

// Start starts the replica and waits until /readyz answers 200 (at most
// 30 s).
func (r *Replica) Start() error {
	log, err := os.OpenFile(r.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"serve", "--addr", r.Addr, "--data", r.data, "--key-file", r.c.KeyFile,
		"--database", r.c.Database, "--log-level", r.c.LogLevel, "--trusted-proxies", "127.0.0.1/32"}
	if r.c.Demo {
		args = append(args, "--demo")
	}
	cmd := exec.Command(r.c.Bin, args...)
	cmd.Env = append(os.Environ(), r.c.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	r.mu.Lock()
	r.cmd, r.log = cmd, log
	r.mu.Unlock()
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		r.mu.Lock()
		if r.cmd == cmd {
			r.cmd = nil
			r.log.Close()
		}
		r.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(r.URL() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("replica %d exited while starting: %v (log %s)", r.N, waitErr, r.LogPath())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("replica %d not ready within 30 s (log %s)", r.N, r.LogPath())
		}
	}
}

// Kill ends the replica with SIGKILL, as a crash would, and waits until it
// is gone.
func (r *Replica) Kill() { r.signal(syscall.SIGKILL) }

// Stop ends the replica gracefully (SIGTERM) and waits until it is gone.
func (r *Replica) Stop() { r.signal(syscall.SIGTERM) }

func (r *Replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(sig)
	for deadline := time.Now().Add(20 * time.Second); ; {
		r.mu.Lock()
		gone := r.cmd == nil
		r.mu.Unlock()
		if gone {
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Log is what the replica has written so far.
func (r *Replica) Log() string {
	b, _ := os.ReadFile(r.LogPath())
	return string(b)
}

// FreeAddr is a free port on 127.0.0.1, as host:port.
func FreeAddr() (string, error) { return freeAddr() }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ErrNoNginx means nginx is not installed.
var ErrNoNginx = errors.New("nginx is not installed (make deps installs it)")
