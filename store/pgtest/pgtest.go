// Package pgtest gives tests, and developers, a throwaway PostgreSQL.
//
// URL returns the address of a fresh, empty database for the calling test,
// dropped when the test ends. The first call in a test binary starts one
// cluster that all its tests share: initdb and postgres from Debian's
// postgresql package (/usr/lib/postgresql/N/bin, the newest N) or from PATH,
// a new temporary directory, loopback only on a free port, trust
// authentication, the socket in that private directory, and fsync,
// full_page_writes and synchronous_commit off, since nothing in it outlives
// the run. PostgreSQL refuses to run as root, and CI runs as root: then every
// PostgreSQL program runs as the postgres user.
//
// # Stopping
//
// A test binary can end in ways no Go code of it sees: a panic in a test, the
// -timeout alarm, os.Exit, Ctrl-C, kill -9. So the test process does not
// stop the cluster itself. A small supervisor does: a shell in a process
// group of its own (Ctrl-C at the terminal does not reach it) that reads
// commands from a pipe whose other end only the test process holds. It runs
// initdb and starts the server, as its own child, when asked; when the pipe
// closes, because the test process closed it or because the kernel did as the
// process died, it shuts the server down (immediate mode: the data is thrown
// away), waits for it and removes the directory. Since one process both
// starts and stops the server, a stop can never miss a start still under
// way, and since the server is its child, the server is reaped, not left to
// init.
//
// A test that needs to see what happens while the database is down starts a
// cluster of its own with NewCluster, and stops and starts its server with
// StopServer and StartServer: the same supervisor does both, on the same
// port and data directory, so a server started again is as sure to be
// stopped with the test binary as the first.
//
// Main, called from TestMain, closes the pipe after the tests and waits for
// the supervisor, so that on a normal exit the cluster is gone before the
// test binary exits and a failure to stop fails the run. A package that does
// not call Main loses its cluster all the same, within a second of exiting.
//
// # Another server
//
// GATEHOUSE_TEST_POSTGRES=postgres://… makes URL use that server instead of
// starting one; each test still gets a database of its own, created there and
// dropped after it.
//
// # Missing PostgreSQL
//
// Without PostgreSQL's server programs, a test that asks for a database is
// skipped, unless the environment has CI=true: there a skipped PostgreSQL
// test would pass a run that tested nothing, so it fails instead.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at an existing
// PostgreSQL server instead of a throwaway one.
const EnvURL = "GATEHOUSE_TEST_POSTGRES"

// ErrNotInstalled reports that PostgreSQL's server programs were not found.
var ErrNotInstalled = errors.New("PostgreSQL's initdb and postgres programs not found (install Debian's postgresql package: make deps)")

// shared is the one server of this test binary.
var shared struct {
	once    sync.Once
	admin   string   // URL of the maintenance database, where tests' databases are created
	cluster *Cluster // nil when EnvURL names the server
	err     error
}

// URL returns the URL of a new, empty database for t on the shared server,
// starting the server on first use, and drops the database when t ends.
func URL(t testing.TB) string {
	t.Helper()
	admin, err := server()
	if errors.Is(err, ErrNotInstalled) {
		if failWhenMissing(os.Getenv("CI")) {
			t.Fatalf("pgtest: %v; CI is set, where a skipped PostgreSQL test fails", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := databaseName(t.Name())
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	// template0: template1 of a server one did not create may hold objects.
	if err := adminExec(admin, `CREATE DATABASE `+ident+` TEMPLATE template0`); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends the connections a test left open.
		if err := adminExec(admin, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// Main runs the tests of a package that uses URL, then stops the shared
// cluster and exits. Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// failWhenMissing reports whether a test that needs PostgreSQL fails, rather
// than skips, where PostgreSQL is not installed: when ci, the value of the CI
// environment variable, is true.
func failWhenMissing(ci string) bool {
	b, _ := strconv.ParseBool(ci)
	return b
}

func server() (string, error) {
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.admin = u
			return
		}
		c, err := Start()
		if err != nil {
			shared.err = err
			return
		}
		shared.cluster = c
		shared.admin = c.URL("postgres")
	})
	return shared.admin, shared.err
}

func stopShared() error {
	shared.once.Do(func() {}) // no cluster starts after this
	if shared.cluster == nil {
		return nil
	}
	return shared.cluster.Stop()
}

// databaseName returns a new database name that says which test it is for.
func databaseName(test string) string {
	var b strings.Builder
	b.WriteString("test_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var random [6]byte
	rand.Read(random[:])
	return b.String() + "_" + hex.EncodeToString(random[:])
}

// withDatabase returns server, a postgres:// URL, naming database instead.
func withDatabase(server, database string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%q is not a postgres:// URL", server)
	}
	u.Path = "/" + database
	u.RawPath = ""
	return u.String(), nil
}

func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Cluster is a throwaway PostgreSQL server in a temporary directory, which
// Stop, or at the latest the end of the process that started it, stops and
// removes.
type Cluster struct {
	dir      string
	port     int
	super    *exec.Cmd
	commands io.WriteCloser // the supervisor's standard input
	replies  *bufio.Reader  // its standard output
	mu       sync.Mutex     // one command at a time
	stopOnce sync.Once
	stopErr  error
}

// supervisor is the shell that owns a cluster ($1: its directory, $2: the
// directory of PostgreSQL's programs). For each line "start PORT" it creates
// the cluster if need be, starts the server on PORT as its own child, waits
// until the server is ready (as pg_ctl -w does: the lock file says "ready")
// and answers one line: ok, initdb-failed or start-failed; a server already
// running is ok. For "stop fast" or "stop immediate" it stops the server as
// pg_ctl stop -m does (SIGINT: sessions are ended and the server shuts down
// cleanly; SIGQUIT: everything ends at once, as in a crash), waits for it,
// keeps the directory for the next start, and answers stopped. When its
// standard input closes it shuts the server down (SIGQUIT: immediate mode),
// waits for it, which reaps it, and removes the directory. It ignores the
// signals a terminal or a hangup sends, so that nothing but its input ends
// it; the server sets its own handlers.
const supervisor = `
dir=$1 bin=$2 pid=
trap '' HUP INT QUIT TERM PIPE
while read -r command arg; do
	case $command in
	stop)
		if [ -n "$pid" ]; then
			if [ "$arg" = immediate ]; then kill -QUIT $pid; else kill -INT $pid; fi
			wait $pid
			pid=
		fi
		echo stopped
		continue;;
	start) ;;
	*) continue;;
	esac
	if [ -n "$pid" ] && kill -0 $pid 2>/dev/null; then
		echo ok
		continue
	fi
	if [ ! -d "$dir/data" ] && ! "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
		echo initdb-failed
		continue
	fi
	"$bin/postgres" -D "$dir/data" -p "$arg" -c listen_addresses=127.0.0.1 -k "$dir" -c max_connections=200 \
		-c fsync=off -c full_page_writes=off -c synchronous_commit=off </dev/null >>"$dir/server.log" 2>&1 &
	pid=$!
	reply=start-failed
	tries=0
	while [ $tries -lt 600 ] && kill -0 $pid 2>/dev/null; do
		case $(sed -n 8p "$dir/data/postmaster.pid" 2>/dev/null) in ready*) reply=ok; break;; esac
		sleep 0.1
		tries=$((tries + 1))
	done
	if [ $reply != ok ]; then
		kill -QUIT $pid 2>/dev/null
		wait $pid
		pid=
	fi
	echo $reply
done
if [ -n "$pid" ]; then
	kill -QUIT $pid
	wait $pid
fi
rm -rf "$dir"
`

// Start starts a throwaway PostgreSQL cluster and returns once it accepts
// connections from its superuser, postgres, on 127.0.0.1. It returns an
// error wrapping ErrNotInstalled when PostgreSQL's programs are missing.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := clusterUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.Remove(dir)
			return nil, err
		}
	}

	c := &Cluster{dir: dir}
	c.super = exec.Command("/bin/sh", "-c", supervisor, "pgtest-supervisor", dir, bin)
	c.super.Dir = dir
	c.super.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if c.commands, err = c.super.StdinPipe(); err != nil {
		os.Remove(dir)
		return nil, err
	}
	out, err := c.super.StdoutPipe()
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	c.replies = bufio.NewReader(out)
	if err := c.super.Start(); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("start the PostgreSQL supervisor: %w", err)
	}

	// The free port is free when asked, not necessarily when the server
	// binds it: another test binary may take it in between, so try again.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			break
		}
		var reply string
		if reply, err = c.command("start " + strconv.Itoa(c.port)); err != nil {
			break
		}
		if reply == "ok" {
			return c, nil
		}
		if reply == "initdb-failed" {
			err = fmt.Errorf("initdb failed:\n%s", c.readLog("initdb.log"))
			break
		}
		if attempt == 3 {
			err = fmt.Errorf("PostgreSQL did not start:\n%s", c.readLog("server.log"))
			break
		}
	}
	if stopErr := c.Stop(); stopErr != nil {
		err = fmt.Errorf("%w; stopping: %v", err, stopErr)
	}
	return nil, err
}

// NewCluster starts a cluster of t's own, which t may stop and start again
// (StopServer, StartServer) without disturbing other tests, and stops and
// removes it when t ends. Where PostgreSQL is missing it skips t, or fails
// it when CI=true, as URL does. It always starts a server, even when
// GATEHOUSE_TEST_POSTGRES names one: a test may not stop a server it did not
// start.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start()
	if errors.Is(err, ErrNotInstalled) {
		if failWhenMissing(os.Getenv("CI")) {
			t.Fatalf("pgtest: %v; CI is set, where a skipped PostgreSQL test fails", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// URL returns the URL of database on c as its superuser.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(database))
}

// Stop stops the server and removes its directory. It waits until both are
// done and is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.commands.Close()
		if err := c.super.Wait(); err != nil {
			c.stopErr = fmt.Errorf("stop PostgreSQL in %s: %w", c.dir, err)
			return
		}
		if _, err := os.Stat(c.dir); !errors.Is(err, fs.ErrNotExist) {
			c.stopErr = fmt.Errorf("stop PostgreSQL: %s is still there", c.dir)
		}
	})
	return c.stopErr
}

// StopMode is how StopServer stops the server, as pg_ctl stop -m names it.
type StopMode string

// The stop modes.
const (
	// Fast ends every session (SQLSTATE 57P01 to each client) and shuts
	// the server down cleanly, as "systemctl stop postgresql" does.
	Fast StopMode = "fast"
	// Immediate ends everything at once, as a crash does: clients see
	// their connections drop, and the next start recovers from the WAL.
	Immediate StopMode = "immediate"
)

// StopServer stops c's server, keeping its data and its port for
// StartServer: a test can see what its clients do while the database is
// down. It returns once the server has exited.
func (c *Cluster) StopServer(mode StopMode) error {
	if mode != Fast && mode != Immediate {
		return fmt.Errorf("pgtest: unknown stop mode %q", mode)
	}
	reply, err := c.command("stop " + string(mode))
	if err == nil && reply != "stopped" {
		err = fmt.Errorf("PostgreSQL supervisor answered %q to stop", reply)
	}
	return err
}

// StartServer starts c's server again, after StopServer, on the same port
// and data, and returns once it accepts connections. A server already
// running is left as it is.
func (c *Cluster) StartServer() error {
	reply, err := c.command("start " + strconv.Itoa(c.port))
	if err != nil {
		return err
	}
	if reply != "ok" {
		return fmt.Errorf("PostgreSQL did not start again on port %d (%s):\n%s", c.port, reply, c.readLog("server.log"))
	}
	return nil
}

func (c *Cluster) command(line string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.commands, line+"\n"); err != nil {
		return "", fmt.Errorf("PostgreSQL supervisor: %w", err)
	}
	reply, err := c.replies.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("PostgreSQL supervisor ended: %w", err)
	}
	return strings.TrimSpace(reply), nil
}

// readLog returns the last lines of one of the cluster's log files.
func (c *Cluster) readLog(name string) string {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// binDir returns the directory of PostgreSQL's server programs: Debian's
// newest, else the one of initdb on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		version := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
		sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
		return found[0], nil
	}
	if p, err := exec.LookPath("initdb"); err == nil && isFile(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// clusterUser returns the credentials PostgreSQL runs under: nil (this
// process's) unless this process is root, which PostgreSQL refuses; then the
// postgres user's, with no supplementary groups.
func clusterUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user: uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
