package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"gatehouse/store"
	"gatehouse/store/pgtest"
	"gatehouse/store/postgres"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
)

// runCrash kills the server with SIGKILL in the middle of a storm of writes
// through the API, rounds times, restarting it each time, and checks after
// every restart that the database is sound, the audit chain verifies, and
// every change acknowledged with a 2xx is there.
// useEngine prepares the engine the servers and commands this program
// starts will use: nothing for SQLite (the data directory), a throwaway
// PostgreSQL for postgres, whose URL they inherit as GATEHOUSE_DATABASE.
func useEngine(engine string) (url string, stop func(), err error) {
	switch engine {
	case "sqlite":
		return "", func() {}, nil
	case "postgres":
		c, err := pgtest.Start()
		if err != nil {
			return "", nil, err
		}
		url := c.URL("postgres")
		os.Setenv("GATEHOUSE_DATABASE", url)
		return url, func() { os.Unsetenv("GATEHOUSE_DATABASE"); c.Stop() }, nil
	}
	return "", nil, fmt.Errorf("-engine must be sqlite or postgres, not %q", engine)
}

func runCrash(bin string, rounds, workers int, engine string) error {
	dir, err := os.MkdirTemp("", "gatehouse-crash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// open opens the database as the server sees it, for the checks.
	open := func() (*sqldb.Store, error) {
		return sqlite.Open(context.Background(), filepath.Join(dir, "data", "gatehouse.db"))
	}
	url, stopEngine, err := useEngine(engine)
	if err != nil {
		return err
	}
	defer stopEngine()
	if url != "" {
		open = func() (*sqldb.Store, error) { return postgres.Open(context.Background(), url) }
	}
	fmt.Printf("crash rounds on %s\n", engine)
	data := filepath.Join(dir, "data")
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	base := "http://" + addr
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	start := func() (*exec.Cmd, error) {
		return startServer(bin, addr, data, logFile, true, 30*time.Second)
	}
	srv, err := start()
	if err != nil {
		return err
	}
	out, _ := exec.Command(bin, "account", "list", "--data", data).Output()
	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(string(out))
	adminOut, err := exec.Command(bin, "token", "create", "--data", data, "--account", account, "--name", "Crash admin", "--module", "MOD-1756").Output()
	if err != nil {
		srv.Process.Kill()
		return fmt.Errorf("token create: %w", err)
	}
	admin := strings.TrimSpace(string(adminOut))
	var targets []string
	for i := range workers {
		o, err := exec.Command(bin, "token", "create", "--data", data, "--account", account, "--name", fmt.Sprintf("Crash target %d", i)).Output()
		if err != nil {
			srv.Process.Kill()
			return err
		}
		targets = append(targets, strings.Split(strings.TrimSpace(string(o)), ":")[1])
	}

	acked := map[string]bool{}      // descriptions acknowledged with a 2xx
	transitions := map[string]int{} // enables and disables acknowledged with a 2xx, by token
	totalAcked, totalTransitions := 0, 0
	for round := 1; round <= rounds; round++ {
		var mu sync.Mutex
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := targets[w]
				for i := 0; ctx.Err() == nil; i++ {
					desc := fmt.Sprintf("ack %d %d %d", round, w, i)
					var method, path, body string
					switch i % 3 {
					case 0, 1:
						method, path, body = http.MethodPut, "/public/v1/accounts/api-tokens/"+id, `{"description":"`+desc+`"}`
					default:
						method, path = http.MethodPost, "/public/v1/accounts/api-tokens/"+id+"/disable"
						if i%2 == 0 {
							path = "/public/v1/accounts/api-tokens/" + id + "/enable"
						}
					}
					req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+admin)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return // the server died
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						mu.Lock()
						acked["5xx"] = true
						mu.Unlock()
					}
					if method == http.MethodPut && resp.StatusCode == http.StatusOK {
						mu.Lock()
						acked[desc] = true
						mu.Unlock()
					}
					if method == http.MethodPost && resp.StatusCode/100 == 2 {
						mu.Lock()
						transitions[id]++
						mu.Unlock()
					}
				}
			}()
		}
		// A restarted server on PostgreSQL first opens its connections
		// (tens of milliseconds each): it gets longer before the kill, so
		// that a round still catches writes in flight.
		warmup := 150
		if engine == "postgres" {
			warmup = 1000
		}
		time.Sleep(time.Duration(warmup+rand.IntN(500)) * time.Millisecond)
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
		stop()
		wg.Wait()
		if acked["5xx"] {
			return fmt.Errorf("round %d: a write got a 5xx", round)
		}

		// Restart (SQLite recovers the log), then check.
		if srv, err = start(); err != nil {
			return fmt.Errorf("round %d: restart: %w", round, err)
		}
		st, err := open()
		if err != nil {
			return err
		}
		integrity := "ok" // PostgreSQL checks its own pages; SQLite is asked
		if engine == "sqlite" {
			st.DB().QueryRow(`PRAGMA integrity_check`).Scan(&integrity)
		}
		res, verr := st.VerifyAudit(context.Background())
		present := map[string]bool{}
		rows, err := st.DB().Query(`SELECT details FROM audit_records WHERE event = ?`, store.EventTokenUpdated)
		if err == nil {
			for rows.Next() {
				var d string
				rows.Scan(&d)
				var details struct {
					Changes struct {
						Description struct{ After string } `json:"description"`
					} `json:"changes"`
				}
				if json.NewDecoder(bytes.NewReader([]byte(d))).Decode(&details) == nil {
					present[details.Changes.Description.After] = true
				}
			}
			rows.Close()
		}
		// Every acknowledged enable or disable has its record (a change
		// whose answer the kill cut off may have one too), and each
		// token's status is the one its newest such record left.
		lostTransitions, wrongStatus := 0, 0
		for _, id := range targets {
			var records int
			var last, status string
			st.DB().QueryRow(`SELECT COUNT(*) FROM audit_records WHERE object_id = ? AND event IN (?, ?)`,
				id, store.EventTokenEnabled, store.EventTokenDisabled).Scan(&records)
			st.DB().QueryRow(`SELECT event FROM audit_records WHERE object_id = ? AND event IN (?, ?) ORDER BY seq DESC LIMIT 1`,
				id, store.EventTokenEnabled, store.EventTokenDisabled).Scan(&last)
			st.DB().QueryRow(`SELECT status FROM api_tokens WHERE id = ?`, id).Scan(&status)
			if records < transitions[id] {
				lostTransitions += transitions[id] - records
			}
			want := store.StatusActive
			if last == store.EventTokenDisabled {
				want = store.StatusDisabled
			}
			if status != want {
				wrongStatus++
			}
		}
		totalTransitions = 0
		for _, n := range transitions {
			totalTransitions += n
		}
		st.Close()
		missing := 0
		n := 0
		for desc := range acked {
			n++
			if !present[desc] {
				missing++
			}
		}
		totalAcked = n
		fmt.Printf("round %2d: integrity %s, audit chain %d records %s, acknowledged so far: %d edits (%d missing), %d enables/disables (%d missing, %d statuses wrong)\n",
			round, integrity, res.Count, map[bool]string{true: "intact", false: "BROKEN"}[verr == nil && res.BadID == ""],
			n, missing, totalTransitions, lostTransitions, wrongStatus)
		if integrity != "ok" || verr != nil || res.BadID != "" || missing > 0 || lostTransitions > 0 || wrongStatus > 0 {
			srv.Process.Kill()
			return errors.New("the database lost or broke something")
		}
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	fmt.Printf("%d kill -9 rounds: integrity ok, chain intact, all %d acknowledged edits and %d enables/disables present\n", rounds, totalAcked, totalTransitions)
	return nil
}
