package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary, run by TestSupervisorStopsClusterOfKilledProcess,
// start a cluster, report it and wait to be killed.
const helperEnv = "GATEHOUSE_PGTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		startAndWait()
		return
	}
	Main(m)
}

func startAndWait() {
	c, err := Start()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.dir, postmasterPID(c.dir))
	time.Sleep(time.Hour)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// requireStart skips or fails t, as URL does, where PostgreSQL is missing.
func requireStart(t *testing.T) *Cluster {
	t.Helper()
	c, err := Start()
	if errors.Is(err, ErrNotInstalled) && !failWhenMissing(os.Getenv("CI")) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// postmasterPID reads the server's process id from its lock file.
func postmasterPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// alive reports whether process pid runs: exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state …: comm may hold spaces and parentheses.
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(string(rest)), "Z")
}

func TestEachTestGetsItsOwnEmptyDatabase(t *testing.T) {
	var names []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			conn := connect(t, URL(t))
			var db string
			var relations int
			err := conn.QueryRow(t.Context(), `SELECT current_database(),
				(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')`).Scan(&db, &relations)
			if err != nil {
				t.Fatal(err)
			}
			if relations != 0 {
				t.Errorf("database %s has %d relations in public, want none", db, relations)
			}
			// Leave something behind: the next test must not see it.
			if _, err := conn.Exec(t.Context(), `CREATE TABLE leftover (id int)`); err != nil {
				t.Fatal(err)
			}
			names = append(names, db)
		})
	}
	if len(names) == 2 && names[0] == names[1] {
		t.Errorf("both tests got database %s", names[0])
	}
}

func TestDatabaseIsDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, URL(t))
		if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		t.Fatal("the subtest got no database")
	}
	admin, err := server()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connect(t, admin).QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestClusterRunsAsPostgresUserUnderRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as root only, as CI does")
	}
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s names the server: pgtest starts none", EnvURL)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, URL(t))
	var pid int
	if err := conn.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var uid string
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		}
	}
	if uid != pg.Uid {
		t.Errorf("server process %d runs as uid %s, want postgres (%s)", pid, uid, pg.Uid)
	}
}

func TestStopRemovesEverything(t *testing.T) {
	t.Parallel()
	c := requireStart(t)
	pid := postmasterPID(c.dir)
	if !alive(pid) {
		t.Fatalf("no running server found in %s (pid %d)", c.dir, pid)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("server %d still runs after Stop", pid)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after Stop (%v)", c.dir, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// A process killed with no chance to clean up still leaves no server and no
// directory behind: its supervisor sees the pipe close.
func TestSupervisorStopsClusterOfKilledProcess(t *testing.T) {
	t.Parallel()
	if _, err := binDir(); errors.Is(err, ErrNotInstalled) && !failWhenMissing(os.Getenv("CI")) {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var dir string
	var pid int
	if _, err := fmt.Sscan(line, &dir, &pid); err != nil || !alive(pid) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q: want a directory and a running server's pid", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) || exists(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("20 s after kill -9: server %d alive %v, %s exists %v", pid, alive(pid), dir, exists(dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func TestFailWhenMissing(t *testing.T) {
	for _, tt := range []struct {
		ci   string
		want bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"true", true},
		{"TRUE", true},
		{"1", true},
	} {
		if got := failWhenMissing(tt.ci); got != tt.want {
			t.Errorf("failWhenMissing(%q) = %v, want %v", tt.ci, got, tt.want)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tt := range []struct{ server, want string }{
		{"postgres://u:p@db.example:5432/postgres?sslmode=require", "postgres://u:p@db.example:5432/test_x?sslmode=require"},
		{"postgresql://localhost", "postgresql://localhost/test_x"},
	} {
		got, err := withDatabase(tt.server, "test_x")
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.server, got, err, tt.want)
		}
	}
	if _, err := withDatabase("host=localhost dbname=x", "test_x"); err == nil {
		t.Error("withDatabase accepted a key=value string")
	}
}

func TestDatabaseName(t *testing.T) {
	a, b := databaseName("TestX/sub case"), databaseName("TestX/sub case")
	if a == b {
		t.Errorf("two names for one test are both %s", a)
	}
	if !strings.HasPrefix(a, "test_testx_sub_case_") {
		t.Errorf("databaseName = %s, want it to name the test", a)
	}
	if long := databaseName(strings.Repeat("TestLong", 20)); len(long) > 63 {
		t.Errorf("databaseName is %d bytes, PostgreSQL keeps 63", len(long))
	}
}

// A cluster's server stops and starts again on the same port with the same
// data, in both modes; while it is stopped nothing listens and no server
// runs; and Stop still removes everything after a restart.
func TestStopServerAndStartAgain(t *testing.T) {
	t.Parallel()
	c := NewCluster(t)
	url := c.URL("postgres")
	conn := connect(t, url)
	if _, err := conn.Exec(t.Context(), `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the stops'); CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []StopMode{Fast, Immediate} {
		pid := postmasterPID(c.dir)
		if err := c.StopServer(mode); err != nil {
			t.Fatalf("StopServer(%s): %v", mode, err)
		}
		if alive(pid) {
			t.Errorf("after StopServer(%s), server %d still runs", mode, pid)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		if down, err := pgx.Connect(ctx, url); err == nil {
			down.Close(ctx)
			t.Errorf("after StopServer(%s), a connection succeeded", mode)
		}
		cancel()
		if err := c.StopServer(mode); err != nil {
			t.Errorf("StopServer(%s) of a stopped server: %v", mode, err)
		}
		if err := c.StartServer(); err != nil {
			t.Fatalf("StartServer after StopServer(%s): %v", mode, err)
		}
		var v string
		if err := connect(t, url).QueryRow(t.Context(), `SELECT v FROM kept`).Scan(&v); err != nil || v != "before the stops" {
			t.Errorf("after StopServer(%s) and StartServer: kept = %q, %v", mode, v, err)
		}
	}
	if err := c.StartServer(); err != nil {
		t.Errorf("StartServer of a running server: %v", err)
	}
	pid := postmasterPID(c.dir)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) || exists(c.dir) {
		t.Errorf("after Stop: server %d alive %v, %s exists %v", pid, alive(pid), c.dir, exists(c.dir))
	}
	if err := c.StopServer(Fast); err == nil {
		t.Error("StopServer after Stop succeeded")
	}
}
