// Command loadtest measures the real gatehouse binary under load with wrk
// (from Debian): it starts the server on a free port with a fresh demo
// database, creates a token, and compares the throughput of the gateway
// verification endpoint with that of a bare handler in the same binary.
//
//	go run ./cmd/loadtest -bin bin/gatehouse [-connections 64] [-duration 10s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gatehouse/cmd/internal/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// result is what wrk reported for one endpoint.
type result struct {
	rps       float64
	p99       time.Duration
	requests  int
	non2xx    int
	socketErr int
}

func run() error {
	bin := flag.String("bin", "bin/gatehouse", "the gatehouse binary")
	conns := flag.Int("connections", 64, "concurrent connections")
	threads := flag.Int("threads", 2, "wrk threads")
	duration := flag.Duration("duration", 10*time.Second, "time on each endpoint, split over the rounds")
	rounds := flag.Int("rounds", 3, "the endpoints take turns this many times, so drift in the machine's load hits both alike")
	minRatio := flag.Float64("min-ratio", 0.85, "fail below this verify/healthz throughput ratio")
	mix := flag.Bool("mix", false, "instead: the reliability load, a mix of console pages and verifications on bulk data")
	tokens := flag.Int("tokens", 100_000, "with -mix: tokens to seed")
	audit := flag.Int("audit", 1_000_000, "with -mix: audit records to seed")
	maxRSS := flag.Int("max-rss", 100, "with -mix: fail above this resident memory of the server, in MB")
	maxSeed := flag.Duration("max-seed", time.Minute, "with -mix: fail if gatehouse seed takes longer")
	crash := flag.Int("crash", 0, "instead: this many rounds of kill -9 during a write storm, with checks after each restart")
	engine := flag.String("engine", "sqlite", "sqlite, or postgres: a throwaway PostgreSQL that store/pgtest starts")
	replicas := flag.Int("cluster", 0, "with -mix: this many replicas on a throwaway PostgreSQL behind nginx, then one of them alone")
	flag.Parse()
	if *replicas > 0 {
		*engine = "postgres"
	}
	if *crash > 0 {
		return runCrash(*bin, *crash, 8, *engine)
	}
	url, stop, err := useEngine(*engine)
	if err != nil {
		return err
	}
	defer stop()
	if url != "" {
		fmt.Printf("on PostgreSQL\n")
	}
	if *mix {
		if _, err := exec.LookPath("wrk"); err != nil {
			return errors.New("wrk is not installed (apt-get install wrk)")
		}
		cfg := mixConfig{bin: *bin, tokens: *tokens, audit: *audit, conns: *conns, duration: *duration, maxRSS: *maxRSS, maxSeed: *maxSeed}
		if *replicas > 0 {
			return runCluster(cfg, *replicas, url)
		}
		return runMix(cfg)
	}

	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	srv, err := startServer(*bin, addr, filepath.Join(dir, "data"), logFile, true, 30*time.Second)
	if err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	base := "http://" + addr
	value, err := createToken(*bin, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	// A first call puts the token in the cache, as any gateway's would.
	if err := check(base+"/public/v1/auth/verify", value); err != nil {
		return err
	}

	fmt.Printf("wrk: %d connections, %d threads, %s per endpoint in %d alternating rounds, against %s\n", *conns, *threads, *duration, *rounds, *bin)
	var bare, verify result
	per := *duration / time.Duration(*rounds)
	for range *rounds {
		b, err := runWrk(base+"/healthz", "", *conns, *threads, per)
		if err != nil {
			return err
		}
		v, err := runWrk(base+"/public/v1/auth/verify", value, *conns, *threads, per)
		if err != nil {
			return err
		}
		bare.add(b, *rounds)
		verify.add(v, *rounds)
	}
	ratio := verify.rps / bare.rps
	for _, r := range []struct {
		name string
		r    result
	}{{"GET /healthz (bare handler)", bare}, {"GET /public/v1/auth/verify", verify}} {
		fmt.Printf("%-30s %9.0f req/s  worst-round p99 %-9s  %d requests, %d non-2xx, %d socket errors\n",
			r.name, r.r.rps, r.r.p99, r.r.requests, r.r.non2xx, r.r.socketErr)
	}
	fmt.Printf("verify / bare throughput: %.3f (target ≥ %.2f)\n", ratio, *minRatio)
	var problems []string
	if verify.non2xx+verify.socketErr+bare.non2xx+bare.socketErr > 0 {
		problems = append(problems, "errors during the run")
	}
	if ratio < *minRatio {
		problems = append(problems, fmt.Sprintf("ratio %.3f below %.2f", ratio, *minRatio))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// add folds one round into the totals: throughput averaged over the rounds,
// the worst p99, counts summed.
func (r *result) add(o result, rounds int) {
	r.rps += o.rps / float64(rounds)
	r.p99 = max(r.p99, o.p99)
	r.requests += o.requests
	r.non2xx += o.non2xx
	r.socketErr += o.socketErr
}

func numCPU() int { return runtime.NumCPU() }

func freeAddr() (string, error) { return cluster.FreeAddr() }

// startServer starts "gatehouse serve" (with --demo if demo) on addr with the
// data directory, writing its log to log at warn level, since the runs
// measure request handling, not the log; and waits up to within for it to
// be ready.
func startServer(bin, addr, data string, log *os.File, demo bool, within time.Duration) (*exec.Cmd, error) {
	args := []string{"serve", "--addr", addr, "--data", data, "--log-level", "warn"}
	if demo {
		args = append(args, "--demo")
	}
	srv := exec.Command(bin, args...)
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		return nil, err
	}
	if err := waitReady("http://"+addr+"/readyz", within); err != nil {
		srv.Process.Kill()
		srv.Wait()
		return nil, err
	}
	return srv, nil
}

func waitReady(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", url, within)
}

// createToken makes a token with the gatehouse CLI in the demo's first
// account and returns its value.
func createToken(bin, data string) (string, error) {
	out, err := exec.Command(bin, "account", "list", "--data", data).Output()
	if err != nil {
		return "", fmt.Errorf("account list: %w", err)
	}
	acc := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(string(out))
	out, err = exec.Command(bin, "token", "create", "--data", data, "--account", acc, "--name", "Load test", "--module", "MOD-0478").Output()
	if err != nil {
		return "", fmt.Errorf("token create: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func check(url, value string) error {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s = %d", url, resp.StatusCode)
	}
	return nil
}

var (
	rpsLine    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	p99Line    = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	totalLine  = regexp.MustCompile(`(\d+) requests in`)
	non2xxLine = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	socketLine = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(url, value string, conns, threads int, d time.Duration) (result, error) {
	args := []string{"-c", strconv.Itoa(conns), "-t", strconv.Itoa(threads), "-d", strconv.Itoa(max(1, int(d.Seconds()))) + "s", "--latency"}
	if value != "" {
		args = append(args, "-H", "Authorization: Bearer "+value)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads wrk's report.
func parseWrk(s string) (result, error) {
	var r result
	m := rpsLine.FindStringSubmatch(s)
	if m == nil {
		return result{}, fmt.Errorf("wrk printed no throughput:\n%s", s)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := p99Line.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
		r.p99 = time.Duration(v * float64(unit)).Round(time.Microsecond)
	}
	if m := totalLine.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := non2xxLine.FindStringSubmatch(s); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := socketLine.FindStringSubmatch(s); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(g)
			r.socketErr += n
		}
	}
	return r, nil
}
