package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/cmd/internal/cluster"
)

// runCluster is the reliability load on replicas serve processes on one
// PostgreSQL behind nginx (round robin), and then the same load on one of
// them alone: throughput side by side, 0 errors in both, each replica's
// peak memory. On a machine with fewer cores than replicas the cluster
// cannot be faster; docs/scaling.md says what it costs per request.
func runCluster(cfg mixConfig, replicas int, database string) error {
	dir, err := os.MkdirTemp("", "gatehouse-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	// The demo (users to log in with) from one server, then the bulk data.
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	srv, err := startServer(cfg.bin, addr, data, logFile, true, 60*time.Second)
	if err != nil {
		return err
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	seedStart := time.Now()
	if out, err := exec.Command(cfg.bin, "seed", "--data", data, "--database", database,
		"--tokens", strconv.Itoa(cfg.tokens), "--audit", strconv.Itoa(cfg.audit)).Output(); err != nil {
		return fmt.Errorf("seed: %v %s", err, out)
	}
	fmt.Printf("seeded %d tokens and %d audit records in %s\n", cfg.tokens, cfg.audit, time.Since(seedStart).Round(100*time.Millisecond))

	c, err := cluster.Start(cluster.Config{Bin: cfg.bin, Replicas: replicas, Database: database, Dir: data})
	if err != nil {
		return err
	}
	defer c.Stop()
	script, npaths, err := prepareMix(cfg.bin, data, c.LB.URL(), dir, cfg.tokens)
	if err != nil {
		return err
	}
	var pids []int
	for _, r := range c.Replicas {
		pids = append(pids, r.Pid())
	}
	// A first pass warms each replica's caches and PostgreSQL's, so that
	// the two measured runs start alike.
	if _, err := measureMix(c.LB.URL(), script, cfg.conns, cfg.duration/2); err != nil {
		return err
	}
	fmt.Printf("mix of %d paths (list pages, searches, details and audit tabs, gateway verify), %d connections, %s each:\n", npaths, cfg.conns, cfg.duration)
	before := sampleCost(database, pids)
	all, err := measureMix(c.LB.URL(), script, cfg.conns, cfg.duration, pids...)
	if err != nil {
		return err
	}
	allCost := sampleCost(database, pids).since(before)
	fmt.Printf("%d replicas behind nginx:\n", replicas)
	all.print()
	if all.socketErr > 0 {
		fmt.Println(all.out)
	}
	var mem []string
	for i, kb := range all.peakKB {
		mem = append(mem, fmt.Sprintf("replica %d %.1f MB", i+1, float64(kb)/1024))
	}
	fmt.Printf("  peak resident memory: %s (limit %d MB each)\n", strings.Join(mem, ", "), cfg.maxRSS)
	allCost.print(all.requests)
	before = sampleCost(database, pids)
	one, err := measureMix(c.Replicas[0].URL(), script, cfg.conns, cfg.duration, pids[0])
	if err != nil {
		return err
	}
	oneCost := sampleCost(database, pids).since(before)
	fmt.Println("replica 1 alone, without nginx:")
	one.print()
	fmt.Printf("  peak resident memory: %.1f MB\n", float64(one.peakKB[0])/1024)
	oneCost.print(one.requests)
	fmt.Printf("throughput, %d replicas over one: %.2f (on this machine's %d cores; docs/scaling.md)\n", replicas, all.rps/one.rps, numCPU())
	var problems []string
	if all.failed() || one.failed() {
		problems = append(problems, "errors during the run")
	}
	for i, kb := range append(all.peakKB, one.peakKB...) {
		if float64(kb)/1024 > float64(cfg.maxRSS) {
			problems = append(problems, fmt.Sprintf("resident memory of a replica (%d) %.1f MB over %d MB", i%replicas+1, float64(kb)/1024, cfg.maxRSS))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// cost is what the replicas and PostgreSQL spent: CPU time of the
// replicas' processes and of PostgreSQL's, and PostgreSQL's transactions
// (each statement outside a transaction is one).
type cost struct {
	replicaCPU, pgCPU time.Duration
	xacts             int64
}

func (c cost) since(b cost) cost {
	return cost{c.replicaCPU - b.replicaCPU, c.pgCPU - b.pgCPU, c.xacts - b.xacts}
}

func (c cost) print(requests int) {
	if requests == 0 {
		return
	}
	n := float64(requests)
	fmt.Printf("  per request: %.3f ms CPU in Gatehouse, %.3f ms CPU in PostgreSQL, %.2f PostgreSQL transactions\n",
		float64(c.replicaCPU.Microseconds())/1000/n, float64(c.pgCPU.Microseconds())/1000/n, float64(c.xacts)/n)
}

// sampleCost reads the CPU time of the replicas' processes and of every
// postgres process from /proc, and the database's transaction count.
func sampleCost(database string, pids []int) cost {
	var c cost
	for _, pid := range pids {
		c.replicaCPU += cpuTime(pid)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "postgres" {
			c.pgCPU += cpuTime(pid)
		}
	}
	ctx := context.Background()
	if conn, err := pgx.Connect(ctx, database); err == nil {
		// The counters are sent to the statistics at the end of each
		// transaction; this connection's own adds one.
		conn.QueryRow(ctx, `SELECT CAST(sum(xact_commit + xact_rollback) AS BIGINT) FROM pg_stat_database`).Scan(&c.xacts)
		conn.Close(ctx)
	}
	return c
}

// cpuTime is a process's user and system CPU time, from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks of 1/100 s
}
