package main

// The markup of every page the browser tests load is checked with the Nu
// Html Checker (vnu, the W3C validator) once they have all run: each tab
// keeps the HTML of the documents it loads, and of the pages fetched into
// dialogs, as the server sent them (not the DOM, which the parser has
// already repaired: a duplicate attribute is gone from it). TestMain runs the
// checker on them in one go and fails the run on any error.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// vnuJarEnv names the checker's jar; make test installs it (make vnu).
const vnuJarEnv = "GATEHOUSE_VNU_JAR"

// htmlPage is a page as the server sent it.
type htmlPage struct {
	url    string
	status int64
	body   []byte
}

// htmlPages holds the pages the browser tests loaded, one per distinct
// markup (CSRF tokens, ids and times aside).
var htmlPages = struct {
	sync.Mutex
	byShape map[[32]byte]htmlPage
	loaded  int // documents seen, duplicates included
	missed  int // documents whose body the browser no longer had
}{byShape: map[[32]byte]htmlPage{}}

var (
	tokenish = regexp.MustCompile(`[A-Za-z0-9_-]{40,}`)
	digits   = regexp.MustCompile(`[0-9]+`)
)

func keepPage(url string, status int64, body []byte) {
	shape := digits.ReplaceAll(tokenish.ReplaceAll(body, []byte("T")), []byte("0"))
	key := sha256.Sum256(shape)
	htmlPages.Lock()
	defer htmlPages.Unlock()
	htmlPages.loaded++
	if _, ok := htmlPages.byShape[key]; !ok {
		htmlPages.byShape[key] = htmlPage{url: url, status: status, body: body}
	}
}

// watchHTML keeps the HTML of every document and fetched page the tab
// loads, until the tab closes.
func watchHTML(tab context.Context) {
	var mu sync.Mutex
	pending := map[network.RequestID]htmlPage{}
	finished := make(chan network.RequestID, 256)
	err := chromedp.Listen(tab, func(ev any) {
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if (e.Type == network.ResourceTypeDocument || e.Type == network.ResourceTypeFetch) &&
				e.Response != nil && strings.HasPrefix(e.Response.MimeType, "text/html") {
				mu.Lock()
				pending[e.RequestID] = htmlPage{url: e.Response.URL, status: e.Response.Status}
				mu.Unlock()
			}
		case *network.EventLoadingFinished:
			mu.Lock()
			_, ok := pending[e.RequestID]
			mu.Unlock()
			if ok {
				select {
				case finished <- e.RequestID:
				default:
				}
			}
		}
	})
	if err != nil {
		return
	}
	go func() {
		for {
			select {
			case <-tab.Done():
				return
			case id := <-finished:
				mu.Lock()
				p := pending[id]
				delete(pending, id)
				mu.Unlock()
				res, err := chromedp.Call(tab, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
				if err != nil {
					htmlPages.Lock()
					htmlPages.missed++
					htmlPages.Unlock()
					continue
				}
				keepPage(p.url, p.status, res.Body)
			}
		}
	}()
}

// vnuJar is the checker's jar: GATEHOUSE_VNU_JAR, or where make vnu puts it.
func vnuJar() string {
	if p := os.Getenv(vnuJarEnv); p != "" {
		return p
	}
	return filepath.Join("..", "..", ".cache", "vnu", "node_modules", "vnu-jar", "build", "dist", "vnu.jar")
}

// checkHTML runs the checker on the pages kept and prints what it finds. It
// returns false when the markup of a page has an error, or when pages were
// kept but could not be checked on CI.
func checkHTML() bool {
	htmlPages.Lock()
	pages := make([]htmlPage, 0, len(htmlPages.byShape))
	for _, p := range htmlPages.byShape {
		pages = append(pages, p)
	}
	loaded, missed := htmlPages.loaded, htmlPages.missed
	htmlPages.Unlock()
	if len(pages) == 0 {
		return true
	}
	jar := vnuJar()
	if _, err := os.Stat(jar); err != nil {
		fmt.Fprintf(os.Stderr, "HTML of %d pages not checked: no Nu Html Checker at %s (make vnu installs it)\n", len(pages), jar)
		return os.Getenv("CI") != "true"
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].url < pages[j].url })
	dir, err := os.MkdirTemp("", "gatehouse-html-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "HTML check:", err)
		return false
	}
	defer os.RemoveAll(dir)
	byFile := map[string]htmlPage{}
	for i, p := range pages {
		name := filepath.Join(dir, fmt.Sprintf("page-%04d.html", i))
		if err := os.WriteFile(name, p.body, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "HTML check:", err)
			return false
		}
		byFile[filepath.Base(name)] = p
	}
	var out bytes.Buffer
	cmd := exec.Command("java", "-jar", jar, "--errors-only", "--format", "json", "--exit-zero-always", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "HTML check: the Nu Html Checker failed: %v\n%s\n", err, out.String())
		return false
	}
	var report struct {
		Messages []struct {
			Type, URL, Message, Extract string
			LastLine                    int
		}
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		fmt.Fprintf(os.Stderr, "HTML check: unreadable report: %v\n%s\n", err, out.String())
		return false
	}
	// One line per distinct error, with how often and where it was first
	// seen: the same template mistake shows on many pages.
	type finding struct {
		n       int
		page    htmlPage
		line    int
		extract string
	}
	findings := map[string]*finding{}
	var order []string
	errors := 0
	for _, m := range report.Messages {
		if m.Type != "error" {
			continue
		}
		errors++
		f, ok := findings[m.Message]
		if !ok {
			f = &finding{page: byFile[filepath.Base(m.URL)], line: m.LastLine, extract: strings.TrimSpace(m.Extract)}
			findings[m.Message] = f
			order = append(order, m.Message)
		}
		f.n++
	}
	for _, msg := range order {
		f := findings[msg]
		fmt.Fprintf(os.Stderr, "HTML error ×%d: %s\n    first in %s (%d), line %d: %s\n", f.n, msg, f.page.url, f.page.status, f.line, f.extract)
	}
	fmt.Fprintf(os.Stderr, "HTML check (Nu Html Checker): %d distinct pages of %d loaded (%d bodies no longer available), %d errors\n",
		len(pages), loaded, missed, errors)
	return errors == 0
}
