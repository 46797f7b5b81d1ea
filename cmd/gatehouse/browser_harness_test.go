package main

// The browser test harness. Each test gets the real program ("gatehouse
// serve --demo" through run, on 127.0.0.1:0, with a data directory of its
// own) and a tab of its own in a private browser context (own cookies,
// storage, cache and history) of one headless Chromium shared by the package.
//
// Two costs are paid once per package rather than once per test: starting
// Chromium, and seeding the demo, which hashes the demo users' passwords (it
// takes seconds under the race detector). The demo is seeded by the real
// program in a scratch directory, and each test's server starts on a copy of
// it, so tests can change data without seeing each other's changes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const (
	// browserTestTimeout bounds everything a test does in the browser, so a
	// missing element fails the test instead of hanging it. It is generous:
	// on a loaded 2-core machine under -race a test can take 3× its usual
	// time, and that is slow, not broken.
	browserTestTimeout = 90 * time.Second
	// startTimeout bounds starting Chromium, a tab, or the server.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the server's graceful shutdown.
	stopTimeout = 20 * time.Second
)

// runMainEnv, set to 1, makes the test binary run as gatehouse: the
// multi-process tests start it for the replicas, so that they need no
// separate build.
const runMainEnv = "GATEHOUSE_TEST_RUN_MAIN"

// TestMain stops the shared Chromium, if a test started one, after the
// tests. (It is the package's TestMain: another test file that needs one
// must share this one.) Started with runMainEnv set, the test binary is the
// program itself, main and its exit status, for the tests of runMain.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	stopSharedBrowser()
	if !checkHTML() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// syncBuffer collects output written from other goroutines (the server's
// logs, the browser's output).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is the program under test, started by startServer.
type server struct {
	listening      chan string // the base URL, once announced
	done           chan error  // run's result
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
}

// startServer starts "gatehouse serve --demo" on 127.0.0.1:0 with the data
// directory and any further flags, without waiting for it.
func startServer(dataDir string, flags ...string) *server {
	s := &server{listening: make(chan string, 1), done: make(chan error, 1)}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	// Nothing of the developer's environment (GATEHOUSE_ADDR, a master key…)
	// may leak into the program under test.
	getenv := func(string) string { return "" }
	stdoutR, stdoutW := io.Pipe()
	go func() {
		args := append([]string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data", dataDir}, flags...)
		err := run(ctx, args, getenv, strings.NewReader(""), stdoutW, &s.stderr)
		stdoutW.Close()
		s.done <- err
	}()
	// Read stdout until the server says where it listens ("Gatehouse dev
	// listening on http://127.0.0.1:PORT"), and on to the end so that the
	// program never blocks on a write.
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(&s.stdout, line)
			if rest, ok := strings.CutPrefix(line, "Gatehouse "); ok {
				if _, u, ok := strings.Cut(rest, " listening on "); ok {
					select {
					case s.listening <- strings.TrimSpace(u):
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, stdoutR)
	}()
	return s
}

// waitListening returns the server's base URL, such as
// http://127.0.0.1:41234, once it listens.
func (s *server) waitListening() (string, error) {
	select {
	case base := <-s.listening:
		if !strings.HasPrefix(base, "http://127.0.0.1:") {
			return "", fmt.Errorf("gatehouse serve announced %q, want http://127.0.0.1:PORT", base)
		}
		return base, nil
	case err := <-s.done:
		s.done <- err // for stop
		return "", fmt.Errorf("gatehouse serve returned before listening: %v", err)
	case <-time.After(startTimeout):
		return "", fmt.Errorf("gatehouse serve did not announce its address within %v", startTimeout)
	}
}

// stop cancels the server's context and waits for run to return, as it does
// after a graceful shutdown.
func (s *server) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("gatehouse serve returned an error: %v", err)
		}
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("gatehouse serve did not stop within %v of its context being cancelled", stopTimeout)
	}
}

// demoTemplate is the data directory the program leaves after seeding the
// demo: file name to content.
var demoTemplate struct {
	once  sync.Once
	files map[string][]byte
	err   error
}

// demoDataDir returns a new data directory, in t.TempDir, holding the demo
// database and its key file as "serve --demo" creates them.
func demoDataDir(t *testing.T) string {
	t.Helper()
	demoTemplate.once.Do(func() { demoTemplate.files, demoTemplate.err = seedDemoTemplate() })
	if demoTemplate.err != nil {
		t.Fatalf("seed the demo: %v", demoTemplate.err)
	}
	dir := t.TempDir()
	for name, b := range demoTemplate.files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// seedDemoTemplate runs the program once on an empty data directory, stops it
// once it listens, and returns the files it left.
func seedDemoTemplate() (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s := startServer(dir)
	_, err = s.waitListening()
	if stopErr := s.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return nil, fmt.Errorf("%v\n%s%s", err, s.stdout.String(), s.stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		// The shared-memory index of SQLite's write-ahead log is rebuilt
		// on open; a copy of it is no use.
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}

// newServer starts the program for the test on a fresh copy of the demo data
// and returns its base URL. It stops, gracefully, when the test ends, and
// its output is printed if the test failed.
func newServer(t *testing.T) string {
	t.Helper()
	s := startServer(demoDataDir(t)) // the data directory is removed after the stop
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("gatehouse stdout:\n%s\ngatehouse log:\n%s", s.stdout.String(), s.stderr.String())
		}
	})
	base, err := s.waitListening()
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// chromiumPath returns the Chromium to drive: GATEHOUSE_CHROMIUM, or the
// Debian package's /usr/bin/chromium. Without one the test is skipped on a
// developer's machine, but fails in CI, where a skipped browser suite would
// look like a passing one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GATEHOUSE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no Chromium at %s (set GATEHOUSE_CHROMIUM, or run make deps): %v", p, err)
		}
		t.Fatalf("no Chromium at %s, and browser tests may not be skipped in CI: %v", p, err)
	}
	return p
}

// sharedBrowser is the package's Chromium, started by the first browser test.
var sharedBrowser struct {
	once    sync.Once
	ctx     context.Context // the browser: no deadline
	cancel  func()
	profile string
	out     syncBuffer
	err     error
}

// browser returns the shared Chromium, starting it if need be.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	sb := &sharedBrowser
	sb.once.Do(func() {
		sb.profile, sb.err = os.MkdirTemp("", "gatehouse-chromium-")
		if sb.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.UserDataDir(sb.profile),
			chromedp.WindowSize(1280, 900),
			chromedp.CombinedOutput(&sb.out),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		sb.ctx = ctx
		sb.cancel = func() {
			cancelBrowser()
			cancelAlloc() // waits for the browser process to exit
		}
		// The first run starts the browser, whose life it binds to its
		// context: that one must have no deadline.
		if err := within(startTimeout, func() error { return chromedp.Do(ctx) }); err != nil {
			sb.err = fmt.Errorf("start Chromium %s: %w\n%s", exe, err, browserOutput(sb.out.String()))
		}
	})
	if sb.err != nil {
		t.Fatal(sb.err)
	}
	return sb.ctx
}

// stopSharedBrowser stops the shared Chromium, if it was started, and
// removes its profile.
func stopSharedBrowser() {
	sb := &sharedBrowser
	if sb.cancel != nil {
		sb.cancel()
	}
	if sb.profile != "" {
		os.RemoveAll(sb.profile)
	}
}

// within runs f, giving up after d. A run that is given up on ends when its
// context is cancelled, at the latest at the test's cleanup.
func within(d time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("no answer within %v", d)
	}
}

// browserOutput returns the last lines Chromium printed, less the noise of a
// machine without D-Bus and of Debian's launcher script (a shell test that
// fails on large /dev/shm sizes).
func browserOutput(out string) string {
	var keep []string
	for line := range strings.Lines(out) {
		noise := strings.Contains(line, "dbus") || strings.Contains(line, "unexpected operator")
		if !noise && strings.TrimSpace(line) != "" {
			keep = append(keep, line)
		}
	}
	if len(keep) > 40 {
		keep = keep[len(keep)-40:]
	}
	return strings.Join(keep, "")
}

// browserTest is one test's server and browser tab.
type browserTest struct {
	t        *testing.T
	ctx      context.Context // the tab, with the test's deadline
	tab      context.Context // the tab, without the deadline
	deadline time.Time
	base     string // the server's base URL, without a trailing slash
	docs     int    // documents marked by newDocument
	noScript bool   // JavaScript is turned off in the tab
	label    string // names the tab in failure artifacts when a test has several
	axeRuns  int    // pages and dialogs checked by axeCheck
}

// newBrowserTest starts a demo server for the test and opens a tab for it in
// a new private browser context. Everything stops when the test ends; a
// failed test leaves a screenshot and the page's HTML behind and logs where.
func newBrowserTest(t *testing.T) *browserTest {
	t.Helper()
	browserCtx := browser(t)
	return openTab(t, browserCtx, newServer(t), time.Time{})
}

// newBrowserTestWithoutJavaScript is newBrowserTest in a tab that runs no
// script of the pages, as a browser with JavaScript turned off.
func newBrowserTestWithoutJavaScript(t *testing.T) *browserTest {
	t.Helper()
	b := newBrowserTest(t)
	b.disableJavaScript()
	return b
}

// otherBrowser opens a second tab on the test's server in a private browser
// context of its own (own cookies and session): another user at another
// computer. It shares the test's deadline.
func (b *browserTest) otherBrowser() *browserTest {
	b.t.Helper()
	o := openTab(b.t, browser(b.t), b.base, b.deadline)
	o.label = "other"
	return o
}

// openTab opens a tab on the server at base in a new private browser
// context. Its actions must end by the deadline; a zero deadline is
// browserTestTimeout from when the tab is open.
func openTab(t *testing.T, browserCtx context.Context, base string, deadline time.Time) *browserTest {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(closeTab) // closes the tab and disposes of its browser context
	if err := within(startTimeout, func() error { return chromedp.Do(tab) }); err != nil {
		t.Fatalf("open a tab: %v\n%s", err, browserOutput(sharedBrowser.out.String()))
	}
	watchHTML(tab)
	if deadline.IsZero() {
		deadline = time.Now().Add(browserTestTimeout)
	}
	ctx, cancel := context.WithDeadline(tab, deadline)
	t.Cleanup(cancel)
	b := &browserTest{t: t, ctx: ctx, tab: tab, deadline: deadline, base: base}
	t.Cleanup(b.saveFailureArtifacts)
	return b
}

// saveFailureArtifacts writes a screenshot and the HTML of the page a failed
// test ended on to GATEHOUSE_BROWSER_ARTIFACTS (default: a
// gatehouse-browser-failures folder in the system's temporary directory) and
// logs their paths. t.TempDir is no place for them: it goes with the test.
func (b *browserTest) saveFailureArtifacts() {
	t := b.t
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	if out := browserOutput(sharedBrowser.out.String()); out != "" {
		t.Logf("Chromium output (last lines):\n%s", out)
	}
	dir := os.Getenv("GATEHOUSE_BROWSER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "gatehouse-browser-failures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("no failure screenshot: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_") +
		"-" + time.Now().Format("20060102-150405.000")
	browserName := "the browser"
	if b.label != "" {
		name += "-" + b.label
		browserName += " (" + b.label + ")"
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		t.Logf("%s was at %s", browserName, loc)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no failure screenshot: %v", err)
	} else if p := filepath.Join(dir, name+".png"); os.WriteFile(p, png, 0o644) == nil {
		t.Logf("screenshot of the failure: %s", p)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err == nil {
		if p := filepath.Join(dir, name+".html"); os.WriteFile(p, []byte(html), 0o644) == nil {
			t.Logf("HTML of the failure: %s", p)
		}
	}
}

// allow gives the test's actions d from now, instead of
// browserTestTimeout, for a test that walks through many pages.
func (b *browserTest) allow(d time.Duration) {
	b.deadline = time.Now().Add(d)
	ctx, cancel := context.WithDeadline(b.tab, b.deadline)
	b.t.Cleanup(cancel)
	b.ctx = ctx
}

// do runs browser actions, failing the test on error.
func (b *browserTest) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open loads a path of the server and waits for the page.
func (b *browserTest) open(path string) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	b.wantNoServerError("open "+path, resp)
}

// andWait runs actions that make the browser load a page (a click on a link,
// Enter in a form, a select that submits its form) and waits until the new
// page has loaded.
func (b *browserTest) andWait(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	b.wantNoServerError(what, resp)
}

// wantNoServerError fails the test when a page came with a 5xx status: no
// test expects one.
func (b *browserTest) wantNoServerError(what string, resp *network.Response) {
	b.t.Helper()
	if resp != nil && resp.Status >= 500 {
		b.t.Fatalf("%s: %s answered %d %s", what, resp.URL, resp.Status, resp.StatusText)
	}
}

// click clicks the first element the selector finds (CSS or XPath, see
// chromedp.Search) and waits for the page it leads to.
func (b *browserTest) click(sel string) {
	b.t.Helper()
	b.andWait("click "+sel, chromedp.Click(chromedp.Search(sel)))
}

// back presses the browser's Back button and waits for the page it goes
// back to, whether the browser loads it again or restores it from its
// back/forward cache (which fires no load event, so chromedp.NavigateBack
// would wait for ever).
func (b *browserTest) back() {
	b.t.Helper()
	b.newDocument("back", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			return err
		}
		if h.CurrentIndex < 1 || int(h.CurrentIndex) >= len(h.Entries) {
			return fmt.Errorf("no page to go back to")
		}
		_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry,
			page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
		return err
	}))
	b.reattach()
}

// reattach attaches a fresh chromedp context to the tab. After a page comes
// back from the back/forward cache, chromedp v0.23.0 loses track of the
// document (DOM.documentUpdated arrives before Page.frameNavigated, which
// then replaces the frame it had just filled), and every element query waits
// for ever; a new attachment loads the document afresh.
func (b *browserTest) reattach() {
	b.t.Helper()
	id := chromedp.FromContext(b.ctx).Target.TargetID
	tab, detach := chromedp.NewContext(b.tab, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel())
	b.t.Cleanup(detach)
	if err := within(time.Until(b.deadline), func() error { return chromedp.Do(tab) }); err != nil {
		b.t.Fatalf("attach to the tab again: %v", err)
	}
	ctx, cancel := context.WithDeadline(tab, b.deadline)
	b.t.Cleanup(cancel)
	b.ctx = ctx
	if b.noScript {
		b.disableJavaScript() // the setting went with the old attachment
	}
}

// disableJavaScript turns the pages' JavaScript off in the tab, from the
// next page it loads on, as a user's browser setting would. The test can
// still evaluate expressions in the page and select elements by CSS (or
// withText), but an XPath search (chromedp.Search, and so click) finds
// nothing then.
func (b *browserTest) disableJavaScript() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		b.t.Fatalf("turn JavaScript off: %v", err)
	}
	b.noScript = true
}

// newDocument runs trigger and waits until the tab shows another document
// than before, completely loaded. Each document is marked with a number of
// its own, so a document restored from the back/forward cache counts as
// another one.
func (b *browserTest) newDocument(what string, trigger chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.docs++
	mark := strconv.Itoa(b.docs)
	b.do(chromedp.Evaluate[chromedp.Void](`window.gatehouseTestDocument = ` + jsString(mark)))
	if err := chromedp.Do(b.ctx, trigger); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	// A signed-in page restored from the back/forward cache marks itself
	// data-stale and reloads; the new document is the reloaded one.
	check := chromedp.Evaluate[bool](`window.gatehouseTestDocument !== ` + jsString(mark) +
		` && document.readyState === "complete" && !document.documentElement.hasAttribute("data-stale")`)
	for {
		// While the page changes the evaluation can fail; try again.
		if ok, err := chromedp.Run(b.ctx, check); err == nil && ok {
			return
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("%s: the browser showed no new page: %v", what, b.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// reload reloads the page.
func (b *browserTest) reload() {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Reload()); err != nil {
		b.t.Fatalf("reload: %v", err)
	}
}

// submitLogin fills the login form of the current page and submits it.
func (b *browserTest) submitLogin(email, password string) {
	b.t.Helper()
	b.do(
		chromedp.WaitVisible(chromedp.CSS("#email")),
		clearField("#email"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	b.click(`//form[@action="/login"]//button[normalize-space(.)="Log in"]`)
}

// clearField empties a text field, as selecting its text and deleting it
// would. (chromedp.SetValue with "" reports a failure.)
func clearField(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(css)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).value = ""`),
	)
}

// login logs in through the login page and checks that it worked.
func (b *browserTest) login(email, password string) {
	b.t.Helper()
	b.open("/login")
	b.submitLogin(email, password)
	if u := b.location(); u.Path != "/settings/api-tokens" {
		b.t.Fatalf("after logging in as %s the browser is at %s, want /settings/api-tokens; the page says %q",
			email, u, b.text("main"))
	}
}

// location returns the URL the browser shows.
func (b *browserTest) location() *url.URL {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	u, err := url.Parse(s)
	if err != nil {
		b.t.Fatalf("location %q: %v", s, err)
	}
	return u
}

// eval evaluates a JavaScript expression in the page (awaiting it, with
// the option chromedp.EvalAwaitPromise, if it is a promise).
func eval[T any](b *browserTest, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// texts returns the rendered text (innerText, spaces collapsed) of every
// element the CSS selector matches on the current page, in document order.
// It does not wait: call it once the page has loaded.
func (b *browserTest) texts(css string) []string {
	b.t.Helper()
	got := eval[[]string](b, `Array.from(document.querySelectorAll(`+jsString(css)+`), e => e.innerText)`)
	for i, s := range got {
		got[i] = strings.Join(strings.Fields(s), " ")
	}
	return got
}

// text returns the rendered text of the one element the selector matches,
// failing the test when there is none or more than one.
func (b *browserTest) text(css string) string {
	b.t.Helper()
	got := b.texts(css)
	if len(got) != 1 {
		b.t.Fatalf("%d elements match %s on %s, want 1", len(got), css, b.location())
	}
	return got[0]
}

// count returns how many elements the CSS selector matches.
func (b *browserTest) count(css string) int {
	b.t.Helper()
	return eval[int](b, `document.querySelectorAll(`+jsString(css)+`).length`)
}

// value returns the current value of a form field.
func (b *browserTest) value(css string) string {
	b.t.Helper()
	if n := b.count(css); n != 1 {
		b.t.Fatalf("%d elements match %s, want 1", n, css)
	}
	return eval[string](b, `document.querySelector(`+jsString(css)+`).value`)
}

// cookie returns the browser's cookie of the given name for the server.
func (b *browserTest) cookie(name string) (*network.Cookie, bool) {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// setCookie puts a cookie for the server into the browser, as an attacker
// holding a stolen cookie would.
func (b *browserTest) setCookie(name, value string) {
	b.t.Helper()
	_, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
		Name: name, Value: value, URL: b.base + "/", HTTPOnly: new(true), SameSite: network.CookieSameSiteLax,
	})
	if err != nil {
		b.t.Fatalf("set cookie %s: %v", name, err)
	}
	if c, ok := b.cookie(name); !ok || c.Value != value {
		b.t.Fatalf("the browser did not keep the cookie %s that was set", name)
	}
}

// waitUntil evaluates a JavaScript expression in the page again and again
// until it is true, and fails the test if it is not by the deadline. what
// says what is awaited, for the failure message.
func (b *browserTest) waitUntil(what, expr string) {
	b.t.Helper()
	check := chromedp.Evaluate[bool](expr)
	var last error
	for {
		// While a page changes the evaluation can fail; try again.
		ok, err := chromedp.Run(b.ctx, check)
		if err == nil && ok {
			return
		}
		if b.ctx.Err() == nil {
			last = err
		}
		select {
		case <-b.ctx.Done():
			if last != nil {
				b.t.Fatalf("waiting until %s at %s: %v (the last check failed: %v)", what, b.where(), b.ctx.Err(), last)
			}
			b.t.Fatalf("waiting until %s at %s: %v", what, b.where(), b.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// where returns the URL the tab shows, for a failure message: unlike
// location it works after the test's deadline too.
func (b *browserTest) where() string {
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// waitStill waits until no animation runs on the page (such as a dialog
// sliding in), so that a click lands where the element comes to rest.
func (b *browserTest) waitStill() {
	b.t.Helper()
	b.waitUntil("the page's animations end", `document.getAnimations().every(a => a.playState !== "running" && a.playState !== "pending")`)
}

// press types keys on the keyboard into the element that has the focus:
// characters, or keys such as kb.Enter, kb.Escape, kb.ArrowDown, kb.Tab
// (github.com/chromedp/chromedp/kb).
func (b *browserTest) press(keys string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(keys)); err != nil {
		b.t.Fatalf("press %q: %v", keys, err)
	}
}

// describeJS describes an element for a person: its tag, and its accessible
// label or the start of its text ("body" for the body, which has the focus
// when no control has it).
const describeJS = `(e => !e ? "nothing" : e === document.body ? "body" :
	e.tagName.toLowerCase() + " " + JSON.stringify((e.getAttribute("aria-label") || e.innerText || e.value || "").trim().replace(/\s+/g, " ").slice(0, 80)))`

// focused describes the element that has the keyboard focus, as describe
// does.
func (b *browserTest) focused() string {
	b.t.Helper()
	return eval[string](b, describeJS+`(document.activeElement)`)
}

// describe describes the first element the CSS selector matches, such as
// summary "Actions for CI pipeline" or button "Disable".
func (b *browserTest) describe(css string) string {
	b.t.Helper()
	return eval[string](b, describeJS+`(document.querySelector(`+jsString(css)+`))`)
}

// withText selects the elements that the CSS selector matches and whose
// text, trimmed and with its spaces collapsed, is exactly text. Use it rather
// than an XPath search, which finds nothing in a tab with JavaScript off.
// Scope css so that it finds one element: an action such as chromedp.Click
// waits until every element it is given is visible.
func withText(css, text string) chromedp.JSPath {
	return chromedp.JSPath(`Array.from(document.querySelectorAll(` + jsString(css) + `)).filter(e => e.textContent.trim().replace(/\s+/g, " ") === ` + jsString(text) + `)`)
}
