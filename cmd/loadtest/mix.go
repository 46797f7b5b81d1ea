package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// mixConfig is the reliability load: a database seeded with many tokens and
// records, then wrk over a mix of list pages, details pages and gateway
// verifications, while the server's resident memory is sampled.
type mixConfig struct {
	bin                  string
	tokens, audit, conns int
	duration             time.Duration
	maxRSS               int // MB
	maxSeed              time.Duration
}

func runMix(cfg mixConfig) error {
	dir, err := os.MkdirTemp("", "gatehouse-mix-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	// The demo first (users to log in with), then the bulk data into its
	// first account.
	start := time.Now()
	if out, err := exec.Command(cfg.bin, "account", "list", "--data", data).CombinedOutput(); err != nil {
		return fmt.Errorf("init: %v %s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	srv, err := startServer(cfg.bin, addr, data, logFile, true, 60*time.Second)
	if err != nil {
		return err
	}
	base := "http://" + addr
	srv.Process.Signal(os.Interrupt) // demo seeded; stop to seed in bulk
	srv.Wait()
	seed := exec.Command(cfg.bin, "seed", "--data", data, "--tokens", strconv.Itoa(cfg.tokens), "--audit", strconv.Itoa(cfg.audit))
	seedStart := time.Now()
	out, err := seed.Output()
	if err != nil {
		return fmt.Errorf("seed: %v", err)
	}
	seedTime := time.Since(seedStart)
	fmt.Print(string(out))
	fmt.Printf("gatehouse seed --tokens %d --audit %d: %s, process included (limit %s)\n",
		cfg.tokens, cfg.audit, seedTime.Round(100*time.Millisecond), cfg.maxSeed)
	if seedTime > cfg.maxSeed {
		return fmt.Errorf("gatehouse seed took %s, over the limit of %s", seedTime.Round(100*time.Millisecond), cfg.maxSeed)
	}
	fmt.Printf("data ready in %s\n", time.Since(start).Round(100*time.Millisecond))

	if srv, err = startServer(cfg.bin, addr, data, logFile, false, 60*time.Second); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	script, npaths, err := prepareMix(cfg.bin, data, base, dir, cfg.tokens)
	if err != nil {
		return err
	}
	m, err := measureMix(base, script, cfg.conns, cfg.duration, srv.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("mix of %d paths (list pages, searches, details and audit tabs, gateway verify), %d connections, %s:\n", npaths, cfg.conns, cfg.duration)
	m.print()
	peakMB := float64(m.peakKB[0]) / 1024
	fmt.Printf("  server peak resident memory: %.1f MB (limit %d MB) with %d tokens and %d audit records\n", peakMB, cfg.maxRSS, cfg.tokens, cfg.audit)
	var problems []string
	if m.failed() {
		problems = append(problems, "errors during the run")
	}
	if peakMB > float64(cfg.maxRSS) {
		problems = append(problems, fmt.Sprintf("resident memory %.1f MB over %d MB", peakMB, cfg.maxRSS))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// prepareMix logs in at base, creates the tokens the mix uses, and writes
// the wrk script into dir; it returns the script's path and how many paths
// it cycles over.
func prepareMix(bin, data, base, dir string, tokens int) (string, int, error) {
	cookie, err := loginCookie(base, "admin@example.com", "gatehouse-demo")
	if err != nil {
		return "", 0, err
	}
	value, err := createToken(bin, data)
	if err != nil {
		return "", 0, err
	}
	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(func() string {
		out, _ := exec.Command(bin, "account", "list", "--data", data).Output()
		return string(out)
	}())
	admin, err := exec.Command(bin, "token", "create", "--data", data, "--account", account, "--name", "Load admin", "--module", "MOD-1756").Output()
	if err != nil {
		return "", 0, fmt.Errorf("token create: %w", err)
	}
	ids, err := someTokenIDs(base, strings.TrimSpace(string(admin)))
	if err != nil {
		return "", 0, err
	}
	if len(ids) == 0 {
		return "", 0, errors.New("the API listed no tokens")
	}
	pages := tokens/10 + 1
	var paths []string
	for i := range 20 {
		paths = append(paths, fmt.Sprintf("/settings/api-tokens?page=%d", 1+i*pages/20))
	}
	paths = append(paths, "/settings/api-tokens?q=gateway", "/settings/api-tokens?status=Disabled&order=name", "/settings/api-tokens?module=MOD-1756&order=-lastAccess")
	for _, id := range ids {
		paths = append(paths, "/settings/api-tokens/"+id, "/settings/api-tokens/"+id+"/audit")
	}
	script := filepath.Join(dir, "mix.lua")
	if err := os.WriteFile(script, []byte(mixScript(paths, cookie, value)), 0o600); err != nil {
		return "", 0, err
	}

	return script, len(paths) + 1, nil
}

// mixResult is one wrk run of the mix.
type mixResult struct {
	result
	statuses [][]string // "2xx", count
	fiveXX   int
	out      string
	peakKB   []int // of each process sampled
}

// measureMix runs the mix script against base with wrk, sampling the
// resident memory of the processes pids meanwhile.
func measureMix(base, script string, conns int, duration time.Duration, pids ...int) (mixResult, error) {
	m := mixResult{peakKB: make([]int, len(pids))}
	var peaks = make([]atomic.Int64, len(pids))
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			for i, pid := range pids {
				if kb := rssKB(pid); int64(kb) > peaks[i].Load() {
					peaks[i].Store(int64(kb))
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	out, err := exec.Command("wrk", "-c", strconv.Itoa(conns), "-t", "2", "-d", strconv.Itoa(int(duration.Seconds()))+"s",
		"--latency", "-s", script, base).CombinedOutput()
	stop()
	for i := range pids {
		m.peakKB[i] = int(peaks[i].Load())
	}
	m.out = string(out)
	if err != nil {
		return m, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if m.result, err = parseWrk(m.out); err != nil {
		return m, err
	}
	m.statuses = regexp.MustCompile(`status (\dxx): (\d+)`).FindAllStringSubmatch(m.out, -1)
	for _, st := range m.statuses {
		if strings.HasPrefix(st[1], "5") {
			n, _ := strconv.Atoi(st[2])
			m.fiveXX += n
		}
	}
	return m, nil
}

func (m mixResult) print() {
	fmt.Printf("  %.0f req/s, p99 %s, %d requests, %d non-2xx, %d socket errors\n", m.rps, m.p99, m.requests, m.non2xx, m.socketErr)
	for _, st := range m.statuses {
		fmt.Printf("  status %s: %s\n", st[1], st[2])
	}
	if len(m.statuses) != 4 {
		fmt.Printf("wrk printed no status counts:\n%s\n", m.out)
	}
}

// failed reports errors of any kind during the run.
func (m mixResult) failed() bool {
	return m.non2xx+m.socketErr > 0 || m.fiveXX > 0 || len(m.statuses) != 4
}

// mixScript is a wrk Lua script cycling over the paths (and the gateway
// verification) with the session cookie or the bearer token, counting
// statuses.
func mixScript(paths []string, cookie, token string) string {
	// A Lua string literal (the values are URL paths, a cookie and a token).
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	var list []string
	for _, p := range paths {
		list = append(list, q(p))
	}
	return `local paths = {` + strings.Join(list, ",") + `}
local cookie = ` + q(cookie) + `
local auth = ` + q("Bearer "+token) + `
local i = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s2xx = 0; s3xx = 0; s4xx = 0; s5xx = 0 end
function request()
  i = i + 1
  if i % 3 == 0 then
    return wrk.format("GET", "/public/v1/auth/verify", {["Authorization"] = auth})
  end
  local p = paths[(i % #paths) + 1]
  return wrk.format("GET", p, {["Cookie"] = cookie})
end
function response(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  elseif status >= 300 then s3xx = s3xx + 1
  else s2xx = s2xx + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, th in ipairs(threads) do
    t[1] = t[1] + th:get("s2xx"); t[2] = t[2] + th:get("s3xx")
    t[3] = t[3] + th:get("s4xx"); t[4] = t[4] + th:get("s5xx")
  end
  io.write(string.format("status 2xx: %d\nstatus 3xx: %d\nstatus 4xx: %d\nstatus 5xx: %d\n", t[1], t[2], t[3], t[4]))
end
`
}

// loginCookie logs in with the CSRF round trip and returns the Cookie header
// value of the session.
func loginCookie(base, email, password string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		return "", errors.New("no CSRF field on the login page")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("login = %d", resp.StatusCode)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), nil
}

// someTokenIDs returns ids of tokens spread over the list, through the API.
func someTokenIDs(base, token string) ([]string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/public/v1/accounts/api-tokens?limit=40&order=name", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct{ Data []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// rssKB reads a process's resident memory from /proc.
func rssKB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
