package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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
	all, err := measureMix(c.LB.URL(), script, cfg.conns, cfg.duration, pids...)
	if err != nil {
		return err
	}
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
	one, err := measureMix(c.Replicas[0].URL(), script, cfg.conns, cfg.duration, pids[0])
	if err != nil {
		return err
	}
	fmt.Println("replica 1 alone, without nginx:")
	one.print()
	fmt.Printf("  peak resident memory: %.1f MB\n", float64(one.peakKB[0])/1024)
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
