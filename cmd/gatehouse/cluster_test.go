package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/cmd/internal/cluster"
	"gatehouse/handlers"
	"gatehouse/store"
	"gatehouse/store/pgtest"
	"gatehouse/store/postgres"
)

// propagationLimit is SPEC §7's worst case for a change to reach every
// replica's verify.
const propagationLimit = time.Second

// TestCluster runs Gatehouse as it runs in production: PostgreSQL, three
// serve replicas (this test binary standing in for gatehouse) sharing one
// key file, and nginx in front of them, round robin, all real processes on
// the loopback interface. It walks the console through nginx, times how
// long a disable or enable made on one replica takes to reach the other
// two replicas' verify (with notifications, then with the listeners'
// connections terminated over and over), kills a replica with SIGKILL
// during a write storm, and restarts PostgreSQL under the replicas.
func TestCluster(t *testing.T) {
	pg := pgtest.NewCluster(t)
	dbURL := pg.URL("postgres")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Start(cluster.Config{Bin: exe, Env: []string{runMainEnv + "=1"}, Replicas: 3,
		Database: dbURL, Dir: t.TempDir(), Demo: true})
	if errors.Is(err, cluster.ErrNoNginx) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, r := range c.Replicas {
				t.Logf("replica %d log:\n%s", r.N, r.Log())
			}
			if c.LB != nil {
				t.Logf("nginx error log:\n%s", c.LB.ErrorLog())
			}
		}
	})

	transport := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(transport.CloseIdleConnections)
	jar, _ := cookiejar.New(nil)
	d := &downClient{t: t, base: c.LB.URL(),
		console: &http.Client{Jar: jar, Transport: transport, Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		api:  &http.Client{Transport: transport, Timeout: 15 * time.Second},
		spec: servedOpenAPI(t, c.LB.URL())}

	// The console through nginx: one session, whichever replica answers.
	d.login()
	served := map[string]int{}
	for range 3 {
		for _, p := range []string{"/settings/api-tokens", "/settings/audit-trail", "/settings/api-tokens?status=Disabled", "/settings/api-tokens/new?step=1&draft=" + strings.Repeat("0f", 16)} {
			a := d.mustPage(p)
			if a.status != 200 || !strings.Contains(a.body, "Log out") {
				t.Fatalf("GET %s through nginx = %d, not the logged-in page", p, a.status)
			}
			served[a.header.Get("X-Gatehouse-Replica")]++
		}
	}
	if len(served) != 3 {
		t.Errorf("the session's pages were served by %v; want all three replicas", served)
	}

	// A token added with the console's wizard, its value shown once.
	id, value := addTokenInConsole(t, d, "Cluster caller", "MOD-0478")
	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(mustCommand(t, c, "account", "list"))
	admin := strings.TrimSpace(mustCommand(t, c, "token", "create", "--account", account, "--name", "Cluster automation", "--module", handlers.AccessManagement))
	for _, r := range c.Replicas {
		if a := d.mustCallAt(r.URL(), "/public/v1/auth/verify", value); a.status != 200 {
			t.Fatalf("verify at replica %d = %d %s", r.N, a.status, a.body)
		}
	}

	// Propagation: disable or enable through replica 1, then time until
	// replicas 2 and 3 both honour it.
	toggle := func(i int) (want int) {
		t.Helper()
		action, want := "disable", 401
		if i%2 == 1 {
			action, want = "enable", 200
		}
		req, _ := http.NewRequest(http.MethodPost, c.Replicas[0].URL()+"/public/v1/accounts/api-tokens/"+id+"/"+action, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		a, err := d.do(d.api, req)
		if err != nil || a.status != 200 {
			t.Fatalf("%s through replica 1 = %d %v %s", action, a.status, err, a.body)
		}
		return want
	}
	measure := func(rounds int) []time.Duration {
		t.Helper()
		var took []time.Duration
		for i := range rounds {
			want := toggle(i)
			start := time.Now()
			var wg sync.WaitGroup
			var slowest atomic.Int64
			for _, r := range c.Replicas[1:] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						a, err := d.callAt(r.URL(), "/public/v1/auth/verify", value)
						if err == nil && a.status == want {
							break
						}
						if time.Since(start) > 5*time.Second {
							t.Errorf("replica %d still answers %d, not %d, 5 s after the change", r.N, a.status, want)
							break
						}
					}
					for el := int64(time.Since(start)); ; {
						cur := slowest.Load()
						if el <= cur || slowest.CompareAndSwap(cur, el) {
							break
						}
					}
				}()
			}
			wg.Wait()
			took = append(took, time.Duration(slowest.Load()))
		}
		return took
	}
	report := func(what string, took []time.Duration) {
		t.Helper()
		slices.Sort(took)
		pct := func(p float64) time.Duration { return took[int(float64(len(took)-1)*p)] }
		fmt.Printf("cluster: a change on replica 1 honoured by replicas 2 and 3, %s: %d changes, p50 %v, p99 %v, max %v (limit %v)\n",
			what, len(took), pct(0.5).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond), propagationLimit)
		if took[len(took)-1] > propagationLimit {
			t.Errorf("%s: the slowest change took %v to reach every replica; the limit is %v", what, took[len(took)-1], propagationLimit)
		}
	}
	report("with notifications", measure(60))

	// Without notifications: terminate the replicas' listener connections
	// as soon as they appear; the poll alone must still meet the limit.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	killAll := func() int {
		var n int
		conn.QueryRow(context.Background(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, postgres.ListenerName).Scan(&n)
		return n
	}
	if n := killAll(); n != len(c.Replicas) {
		t.Errorf("%d listener connections found, want one per replica (%d)", n, len(c.Replicas))
	}
	stopKilling := make(chan struct{})
	killed := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stopKilling:
				killed <- n
				return
			case <-time.After(5 * time.Millisecond):
				n += killAll()
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	without := measure(30)
	close(stopKilling)
	terminated := len(c.Replicas) + <-killed
	report(fmt.Sprintf("listeners terminated (%d times)", terminated), without)
	if slices.Max(without) < 20*time.Millisecond {
		t.Errorf("without notifications every change arrived within %v: the listeners were not cut off", slices.Max(without))
	}

	// kill -9 of a replica during a write storm through nginx: nothing
	// acknowledged is lost, and the audit chain has no fork and no gap.
	stormThroughNginx(t, c, d, admin, account)

	// PostgreSQL restarts under the replicas: they recover by themselves.
	if err := pg.StopServer(pgtest.Fast); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	for _, r := range c.Replicas {
		if a, err := d.pageAt(r.URL(), "/readyz"); err != nil || a.status != 503 {
			t.Errorf("replica %d readyz with PostgreSQL down = %d %v, want 503", r.N, a.status, err)
		}
	}
	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for _, r := range c.Replicas {
		for {
			a, err := d.pageAt(r.URL(), "/readyz")
			if err == nil && a.status == 200 {
				break
			}
			if time.Since(back) > 15*time.Second {
				t.Fatalf("replica %d not ready 15 s after PostgreSQL came back: %d %v %s", r.N, a.status, err, a.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if a := d.mustCallAt(r.URL(), "/public/v1/auth/verify", value); a.status != 200 && a.status != 401 {
			t.Errorf("verify at replica %d after the restart = %d", r.N, a.status)
		}
	}
	fmt.Printf("cluster: PostgreSQL restarted; every replica ready again %v after it was back\n", time.Since(back).Round(time.Millisecond))
	if a := d.mustPage("/settings/api-tokens"); a.status != 200 {
		t.Errorf("console through nginx after the restart = %d", a.status)
	}
	// The same change reaches every replica after the restart too.
	report("after PostgreSQL restarted", measure(4))
}

// stormThroughNginx writes through nginx from several clients, kills
// replica 2 with SIGKILL midway and starts it again, then checks that
// every acknowledged change is in the database and the chain verifies. It
// prints how many audit records the three replicas appended per second.
func stormThroughNginx(t *testing.T, c *cluster.Cluster, d *downClient, admin, account string) {
	t.Helper()
	const workers = 6
	var targets []string
	for w := range workers {
		v := strings.TrimSpace(mustCommand(t, c, "token", "create", "--account", account, "--name", fmt.Sprintf("Storm %d", w)))
		targets = append(targets, strings.Split(v, ":")[1])
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	transitions := map[string]int{}
	var writes, refused atomic.Int64
	var bad []string
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := targets[w]
			for i := 0; ctx.Err() == nil; i++ {
				desc := fmt.Sprintf("storm %d %d", w, i)
				method, path, body := http.MethodPut, "/public/v1/accounts/api-tokens/"+id, `{"description":"`+desc+`"}`
				if i%3 == 2 {
					method, path, body = http.MethodPost, "/public/v1/accounts/api-tokens/"+id+"/disable", ""
					if (i/3)%2 == 1 {
						path = "/public/v1/accounts/api-tokens/" + id + "/enable"
					}
				}
				req, _ := http.NewRequestWithContext(ctx, method, c.LB.URL()+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+admin)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := d.api.Do(req)
				if err != nil {
					continue // cancelled at the end
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				switch {
				case resp.StatusCode/100 == 2:
					writes.Add(1)
					if method == http.MethodPut {
						acked[desc] = true
					} else {
						transitions[id]++
					}
				case resp.StatusCode == http.StatusBadGateway:
					refused.Add(1) // in flight at the kill: not acknowledged
				case method == http.MethodPost && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusConflict):
					// Already in that state: the cut-off change before it
					// was made after all.
				default:
					if len(bad) < 10 {
						bad = append(bad, fmt.Sprintf("%s %s = %d", method, path, resp.StatusCode))
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	time.Sleep(2 * time.Second)
	c.Replicas[1].Kill()
	killedAt := time.Now()
	time.Sleep(time.Second)
	if err := c.Replicas[1].Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Since(killedAt)
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	elapsed := time.Since(start)
	for _, b := range bad {
		t.Errorf("write storm: %s", b)
	}

	out, err := c.Command("audit", "verify")
	if err != nil {
		t.Fatalf("audit verify after the storm: %v\n%s", err, out)
	}
	st, err := postgres.Open(context.Background(), c.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	present := map[string]bool{}
	rows, err := st.DB().Query(`SELECT details FROM audit_records WHERE event = ?`, store.EventTokenUpdated)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var details string
		rows.Scan(&details)
		var v struct {
			Changes struct {
				Description struct{ After string } `json:"description"`
			} `json:"changes"`
		}
		if json.Unmarshal([]byte(details), &v) == nil {
			present[v.Changes.Description.After] = true
		}
	}
	rows.Close()
	missing := 0
	for desc := range acked {
		if !present[desc] {
			missing++
		}
	}
	lost := 0
	for _, id := range targets {
		var records int
		st.DB().QueryRow(`SELECT COUNT(*) FROM audit_records WHERE object_id = ? AND event IN (?, ?)`,
			id, store.EventTokenEnabled, store.EventTokenDisabled).Scan(&records)
		lost += max(0, transitions[id]-records)
	}
	fmt.Printf("cluster: write storm through nginx, %d clients on 3 replicas, replica 2 killed with SIGKILL after 2 s and ready again %v later: "+
		"%d writes acknowledged (%.0f audit appends/s), %d cut off (502), %d acknowledged edits and %d enables/disables all present: %v; %s",
		workers, restarted.Round(time.Millisecond), writes.Load(), float64(writes.Load())/elapsed.Seconds(), refused.Load(),
		len(acked), sumValues(transitions), missing == 0 && lost == 0, out)
	if missing > 0 || lost > 0 {
		t.Errorf("%d acknowledged edits and %d acknowledged enables/disables are missing", missing, lost)
	}
	if writes.Load() == 0 {
		t.Error("the storm wrote nothing")
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func mustCommand(t *testing.T, c *cluster.Cluster, args ...string) string {
	t.Helper()
	out, err := c.Command(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// addTokenInConsole goes through the Add wizard and Show on its summary,
// and returns the new token's id and value.
func addTokenInConsole(t *testing.T, d *downClient, name, module string) (id, value string) {
	t.Helper()
	page := d.mustPage("/settings/api-tokens")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no _csrf on the list")
	}
	csrf := m[1]
	post := func(path string, form url.Values) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, d.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a, err := d.do(d.console, req)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// Each step is answered with a redirect to the next one's page, whichever
	// replica serves it: the draft is in the database.
	step := regexp.MustCompile(`^/settings/api-tokens/new\?draft=([0-9a-f]{32})&step=(\d)$`)
	form := url.Values{"_csrf": {csrf}, "step": {"1"}, "go": {"next"}, "name": {name}, "description": {"Added through nginx"}}
	a := post("/settings/api-tokens/new", form)
	sm := step.FindStringSubmatch(a.header.Get("Location"))
	if a.status != http.StatusSeeOther || sm == nil || sm[2] != "2" {
		t.Fatalf("wizard step 1 → %d %q", a.status, a.header.Get("Location"))
	}
	if p := d.mustPage(a.header.Get("Location")); p.status != 200 || !strings.Contains(p.body, `value="`+module+`"`) {
		t.Fatalf("wizard step 2 = %d", p.status)
	}
	form = url.Values{"_csrf": {csrf}, "draft": {sm[1]}, "step": {"2"}, "go": {"next"}, "modules": {module}}
	if a := post("/settings/api-tokens/new", form); a.status != http.StatusSeeOther || !strings.HasSuffix(a.header.Get("Location"), "&step=3") {
		t.Fatalf("wizard step 2 → %d %q", a.status, a.header.Get("Location"))
	}
	form = url.Values{"_csrf": {csrf}, "draft": {sm[1]}, "step": {"3"}, "go": {"add"}}
	a = post("/settings/api-tokens/new", form)
	loc := a.header.Get("Location")
	mm := regexp.MustCompile(`^/settings/api-tokens/(TKN-\d{4}-\d{4})/created$`).FindStringSubmatch(loc)
	if a.status != http.StatusSeeOther || mm == nil {
		t.Fatalf("wizard Add = %d %q", a.status, loc)
	}
	id = mm[1]
	shown := post("/settings/api-tokens/"+id+"/reveal", url.Values{"_csrf": {csrf}, "from": {"created"}})
	if shown.status == http.StatusSeeOther {
		shown = d.mustPage(shown.header.Get("Location"))
	}
	value = regexp.MustCompile(`idt:` + id + `:[0-9A-Za-z]{49}`).FindString(shown.body)
	if value == "" {
		t.Fatalf("Show on the summary = %d without the value", shown.status)
	}
	return id, value
}

// callAt, mustCallAt and pageAt are call, mustCall and page at one
// replica, past the load balancer.
func (d *downClient) callAt(base, path, value string) (answer, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+value)
	return d.do(d.api, req)
}

func (d *downClient) mustCallAt(base, path, value string) answer {
	d.t.Helper()
	a, err := d.callAt(base, path, value)
	if err != nil {
		d.t.Fatalf("GET %s%s: %v", base, path, err)
	}
	return a
}

func (d *downClient) pageAt(base, path string) (answer, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	return d.do(d.console, req)
}
