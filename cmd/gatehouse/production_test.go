//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/pgtest"
)

// productionSection is the heading of README.md's section that
// TestProductionStepsFromREADME follows.
const productionSection = "## Going to production"

// readmeBlocks returns the ```bash blocks of README.md's section under
// heading, in order, without the indentation of the list items they are in.
func readmeBlocks(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	var cur []string
	indent, in := "", false
	for _, line := range strings.Split(section, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case !in && trimmed == "```bash":
			in, indent, cur = true, line[:len(line)-len(trimmed)], nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("README.md's %q section has no bash block", heading)
	}
	return blocks
}

// gatehouseOnPath returns a directory holding a "gatehouse" that is the
// program under test (this test binary, run as main).
func gatehouseOnPath(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\n" + runMainEnv + "=1 exec '" + strings.ReplaceAll(self, "'", `'\''`) + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "gatehouse"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shell runs script with bash (-e, pipefail) in env with stdin, and
// returns its output and the environment it ended with, as the next block
// typed into the same terminal would see it.
func shell(t *testing.T, env []string, stdin, script string) (out string, after []string) {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "env")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script+"\nenv -0 > '"+dump+"'\n")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash failed (%v) on:\n%s\noutput:\n%s", err, script, b)
	}
	raw, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SHLVL", "PWD", "OLDPWD", "_":
		default:
			after = append(after, kv)
		}
	}
	return string(b), after
}

// process is a gatehouse serve started by startServe.
type process struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	stderr  syncBuffer
	done    chan error
	stopped bool
}

// startServe runs command (a shell command line that runs gatehouse serve)
// with bash in env, in a process group of its own, and waits until it
// listens.
func startServe(t *testing.T, env []string, command string) *process {
	t.Helper()
	p := &process{done: make(chan error, 1)}
	p.cmd = exec.Command("bash", "-c", command)
	p.cmd.Env = env
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
				listening <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, stdout)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.base = <-listening:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("%s ended before listening: %v\n%s", command, err, p.stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not listen within %v\n%s", command, startTimeout, p.stderr.String())
	}
	return p
}

// stop sends SIGTERM to the process group, as a service manager does, and
// waits for a graceful exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("gatehouse serve did not exit cleanly on SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(stopTimeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("gatehouse serve did not stop within %v of SIGTERM", stopTimeout)
	}
}

// logIn logs in to the console at base as a browser does (GET the form for
// the CSRF cookie, POST it, follow the redirect) and returns the page it
// lands on. Cookies are carried by hand: behind a TLS proxy they are
// Secure, and this client talks to the server directly over HTTP.
func logIn(t *testing.T, base, email, password string) (landed string, body string, cookies []*http.Cookie) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	jar := map[string]*http.Cookie{}
	do := func(req *http.Request) *http.Response {
		t.Helper()
		for _, c := range jar {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Cookies() {
			jar[c.Name] = c
			cookies = append(cookies, c)
		}
		return resp
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		resp := do(req)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/login")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the login page:\n%s", page)
	}
	form := url.Values{"email": {email}, "password": {password}, "_csrf": {m[1]}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp = do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login = %d, want 303", resp.StatusCode)
	}
	landed = resp.Header.Get("Location")
	resp, body = get(landed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s after login = %d", landed, resp.StatusCode)
	}
	return landed, body, cookies
}

// README.md's "Going to production", followed on a fresh directory with the
// real program: each bash block runs in a new shell, in order, with the
// environment the blocks before it exported (as in one terminal), and the
// same stdin a person would type (the administrator's password). Only the
// paths under /var (made to live in a temporary directory) and the port
// (any free one) are the test's own; building is not repeated, the program
// under test is "gatehouse" on PATH. Before the account is made, serve on
// the empty database prints the commands to make it; after the steps, the
// administrator logs in and sees the account, and the backup step writes a
// backup beside the running server.
func TestProductionStepsFromREADME(t *testing.T) {
	blocks := readmeBlocks(t, productionSection)
	root := t.TempDir()
	local := strings.NewReplacer("/var/", root+"/var/", "127.0.0.1:8080", "127.0.0.1:0")
	env := []string{"PATH=" + gatehouseOnPath(t) + ":" + os.Getenv("PATH"), "HOME=" + root, "LANG=C.UTF-8"}
	const password = "correct horse battery staple"

	var served *process
	sawHint, sawAccount := false, false
	var accountName, email string
	for i, block := range blocks {
		script := local.Replace(block)
		t.Logf("block %d:\n%s", i+1, script)
		switch {
		case strings.HasPrefix(strings.TrimSpace(script), "gatehouse serve"):
			if !sawAccount {
				t.Fatal("README.md serves before it makes the first account")
			}
			served = startServe(t, env, script)
			if strings.Contains(served.stderr.String(), "no users yet") {
				t.Errorf("serve with an administrator still says there is none:\n%s", served.stderr.String())
			}
			continue
		case strings.Contains(script, "gatehouse account add"):
			sawAccount = true
			// First, serve on the database as the steps before left it:
			// empty, it says how to make the account and administrator.
			empty := startServe(t, env, "gatehouse serve --addr 127.0.0.1:0")
			empty.stop(t)
			hint := empty.stderr.String()
			data := root + "/var/lib/gatehouse"
			for _, want := range []string{
				"This database has no users yet. Create the first account and its administrator",
				"  ACCOUNT=$(gatehouse account add --data " + data + " --name 'Example Ltd' --type Operations --module MOD-1756 ",
				"  gatehouse user add --data " + data + ` --account "$ACCOUNT" --email admin@example.com --name 'Alex Admin' --role Administrator` + "\n",
			} {
				if !strings.Contains(hint, want) {
					t.Errorf("serve on the empty database printed:\n%s\nwant a line with %q", hint, want)
				}
			}
			sawHint = true
			m := regexp.MustCompile(`--name "([^"]+)" --type`).FindStringSubmatch(script)
			e := regexp.MustCompile(`--email (\S+)`).FindStringSubmatch(script)
			if m == nil || e == nil {
				t.Fatalf("cannot tell the account's name and the administrator's email from:\n%s", script)
			}
			accountName, email = m[1], e[1]
		}
		out, after := shell(t, env, password+"\n", script)
		t.Logf("output:\n%s", out)
		env = after
	}
	if !sawHint || served == nil {
		t.Fatalf("README.md's %q makes no account or never serves", productionSection)
	}

	// The files are private, the key is the one the steps made.
	for _, p := range []string{"var/lib/gatehouse", "var/lib/gatehouse/gatehouse.key", "var/lib/gatehouse/gatehouse.db"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, %v; want it private", p, fi.Mode(), err)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(root, "var/backups/gatehouse/gatehouse-*.db"))
	if len(backups) != 1 {
		t.Errorf("backups written: %v, want one", backups)
	}

	landed, page, cookies := logIn(t, served.base, email, password)
	if landed != "/settings/api-tokens" || !strings.Contains(page, accountName) {
		t.Errorf("after login: landed on %s; the page names the account %q: %v", landed, accountName, strings.Contains(page, accountName))
	}
	if !slices.ContainsFunc(cookies, func(c *http.Cookie) bool { return c.Name == "gatehouse_session" && c.Secure && c.HttpOnly }) {
		t.Errorf("no Secure, HttpOnly session cookie behind the TLS proxy: %v", cookies)
	}
	served.stop(t)
}

// The commands serve prints for a database without users work as printed,
// pasted into a shell; on PostgreSQL they name the database without its
// password.
func TestServeHintCommandsWork(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data dir") // a space: the commands quote it
	env := []string{"PATH=" + gatehouseOnPath(t) + ":" + os.Getenv("PATH"), "HOME=" + root}
	p := startServe(t, env, "gatehouse serve --addr 127.0.0.1:0 --data '"+data+"'")
	p.stop(t)
	var cmds []string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.HasPrefix(line, "  ") {
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("serve on an empty database printed:\n%s\nwant two commands", p.stderr.String())
	}
	shell(t, env, "a long enough password\n", strings.Join(cmds, "\n"))
	if out, err := runCLI(t, data, "", "user", "list"); err != nil || !regexp.MustCompile(`admin@example.com\s+Alex Admin\s+Administrator\s+Example Ltd \(ACC-`).MatchString(out) {
		t.Errorf("after the printed commands, user list: %v\n%s", err, out)
	}
	// Now that there is a user, serve says nothing of it.
	p = startServe(t, env, "gatehouse serve --addr 127.0.0.1:0 --data '"+data+"'")
	p.stop(t)
	if strings.Contains(p.stderr.String(), "no users yet") {
		t.Errorf("serve with a user:\n%s", p.stderr.String())
	}

	// PostgreSQL: the URL's password is hidden, and the operator told so.
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "pw-never-printed" // trust authentication: never asked for
	u.User = url.UserPassword(u.User.Username(), secret)
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database", u.String()},
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	}()
	for deadline := time.Now().Add(startTimeout); !strings.Contains(out.String(), " listening on "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve on PostgreSQL did not listen:\n%s", errOut.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hint := errOut.String()
	if strings.Contains(hint, secret) || !strings.Contains(hint, "gatehouse user add --database '"+redactURL(u.String())+"' --account") ||
		!strings.Contains(hint, "The password in --database is hidden here") {
		t.Errorf("serve on an empty PostgreSQL database printed:\n%s", hint)
	}
}

// make run's demo has its users: serve prints its logins, and nothing about
// making the first administrator.
func TestServeDemoPrintsNoFirstUserHint(t *testing.T) {
	s := startServer(demoDataDir(t))
	if _, err := s.waitListening(); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.stderr.String(), "no users yet") || !strings.Contains(s.stdout.String(), "Demo logins") {
		t.Errorf("serve --demo:\nstdout %s\nstderr %s", s.stdout.String(), s.stderr.String())
	}
}

// With --log-format json the hint is one log record, so that log shippers
// that parse every line are not fed plain text.
func TestFirstUserHintAsJSON(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	cfg := serveConfig{data: &dataOpts{dir: "/srv/gate house"}, logFormat: "json"}
	printFirstUserHint(&buf, logger, cfg, []store.Module{{ID: "MOD-1756", Name: "Access management"}})
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("hint with --log-format json = %q (%v); want one JSON record", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["account_add"] != "ACCOUNT=$(gatehouse account add --data '/srv/gate house' --name 'Example Ltd' --type Operations --module MOD-1756)" ||
		rec["user_add"] != `gatehouse user add --data '/srv/gate house' --account "$ACCOUNT" --email admin@example.com --name 'Alex Admin' --role Administrator` {
		t.Errorf("record = %v", rec)
	}
}
