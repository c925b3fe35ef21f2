package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"everywhere/internal/result"
)

// chromium finds Debian's chromium. Under CI=true (scripts/install-deps
// installs it) a missing browser fails the test; elsewhere it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH (scripts/install-deps installs it)")
	}
	t.Skip("no chromium on PATH: apt-get install chromium")
	return ""
}

// browser is a page of headless chromium and what it did: every request,
// console message, uncaught exception and dialog.
type browser struct {
	ctx                                    context.Context
	mu                                     sync.Mutex
	requests, console, exceptions, dialogs []string
}

// open renders res as HTML to a file and loads it in headless chromium.
func open(t *testing.T, res *result.Result) (*browser, string) {
	t.Helper()
	path := chromium(t)
	var doc bytes.Buffer
	if err := HTML(&doc, res); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, doc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatal(err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() { // a dialog blocks the page: record it, then close it
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
		}
	}()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	url := "file://" + file
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	return b, url
}

func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		b.console = append(b.console, string(ev.Type)+": "+strings.Join(args, " "))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			b.console = append(b.console, string(ev.Entry.Level)+": "+ev.Entry.Text)
		}
	case *runtime.EventExceptionThrown:
		b.exceptions = append(b.exceptions, ev.ExceptionDetails.Text)
	case *page.EventJavascriptDialogOpening:
		b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
	}
}

// eval runs a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func click(t *testing.T, b *browser, selector string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
}

// quiet checks that the page asked for nothing but itself and said
// nothing: no other request, no console message, no exception, no dialog.
func (b *browser) quiet(t *testing.T, url string) {
	t.Helper()
	// Let anything the page might still do happen before looking.
	if err := chromedp.Do(b.ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) != 1 || b.requests[0] != url {
		t.Errorf("requests %q, want only the page itself", b.requests)
	}
	if len(b.console)+len(b.exceptions)+len(b.dialogs) > 0 {
		t.Errorf("console %q, exceptions %q, dialogs %q: want none", b.console, b.exceptions, b.dialogs)
	}
}

// visible counts the elements selector finds that are drawn.
const visible = `[...document.querySelectorAll(%q)].filter(e => e.checkVisibility()).length`

func TestHTMLInBrowser(t *testing.T) {
	res := fixture()
	b, url := open(t, res)
	if n := eval[int](t, b, fmt.Sprintf(visible, ".grid-view tbody tr")); n != len(res.Hosts) {
		t.Errorf("%d host rows shown, want %d", n, len(res.Hosts))
	}
	grid := eval[string](t, b, `document.querySelector(".grid-view").innerText`)
	for _, h := range res.Hosts {
		if !strings.Contains(grid, h.Name) {
			t.Errorf("host %s not shown", h.Name)
		}
	}
	for _, s := range append(res.Steps, "cleanup: tidy") {
		if !strings.Contains(grid, s) {
			t.Errorf("step %s not shown", s)
		}
	}
	if n := eval[int](t, b, fmt.Sprintf(visible, "nav button")); n != 2 {
		t.Errorf("%d of the script's buttons shown, want 2: did the page's own script run?", n)
	}

	// atom's machine cell: a click shows all of its output.
	cell := ".grid-view tbody tr:nth-child(3) td.s-failed"
	if n := eval[int](t, b, fmt.Sprintf(visible, cell+" pre")); n != 0 {
		t.Errorf("output shown before the click")
	}
	click(t, b, cell+" summary")
	if got := eval[string](t, b, `document.querySelector("`+cell+` pre").innerText`); !strings.Contains(got, "x86_64") ||
		eval[int](t, b, fmt.Sprintf(visible, cell+" pre")) != 1 {
		t.Errorf("a click does not show the cell's output: %q", got)
	}

	// Failures only: the three hosts that are not ok stay.
	click(t, b, `label[for=failures]`)
	rows := eval[[]string](t, b, `[...document.querySelectorAll(".grid-view tbody tr")].filter(e => e.checkVisibility()).map(e => e.querySelector("th").firstChild.textContent)`)
	if strings.Join(rows, ",") != "atom,build,power9" {
		t.Errorf("failures only shows %q, want atom, build, power9", rows)
	}

	// The grouped view, as in the terminal: i686's wrong answer stands alone.
	click(t, b, `label[for=view-groups]`)
	if eval[int](t, b, fmt.Sprintf(visible, ".grid-view")) != 0 || eval[int](t, b, fmt.Sprintf(visible, ".groups-view .step")) == 0 {
		t.Errorf("the grouped view does not replace the grid")
	}
	click(t, b, `label[for=failures]`)
	groups := eval[string](t, b, `document.querySelector(".groups-view").innerText`)
	for _, want := range []string{"connect", "unreachable · build (1)", "≠ ✘ failed 0.60s · atom (1)", "ok 0.60s · pi4, power9, rpi5, z15 (4)"} {
		if !strings.Contains(groups, want) {
			t.Errorf("grouped view lacks %q:\n%s", want, groups)
		}
	}
	click(t, b, "nav button[data-open='1']")
	if n := eval[int](t, b, fmt.Sprintf(visible, ".groups-view pre")); n == 0 {
		t.Errorf("Expand all shows no output")
	}
	b.quiet(t, url)
}

// attacks is markup and script a host may print, name or send back.
var attacks = []string{
	"</script><script>alert('script')</script>",
	"<img src=x onerror=alert('img')>",
	`<a href="javascript:alert('link')">details</a> javascript:alert('bare')`,
	"<svg onload=alert('svg')></svg><iframe src=https://example.com/frame></iframe>",
	`<link rel=stylesheet href=https://example.com/x.css><style>@import url(https://example.com/y.css)</style>`,
	`<meta http-equiv=refresh content="0;url=https://example.com/">`,
	"\"'><body onload=alert('attr')>",
	"a\u202Eevil\u202Cb \u2066isolate\u2069",
	"<!-- ]]> {{.CSS}} ${alert('tpl')}",
}

func hostileResult() *result.Result {
	attack := strings.Join(attacks, "\n")
	res := tiny(3, attack, withOutput(attack+"\n", attack+"\n"))
	res.Plan, res.RunID, res.Version = attack, attack, attack
	for _, p := range places {
		p.put(res, attack)
	}
	res.Hosts[1].Steps[0].Status = result.Failed
	res.Hosts[1].Steps[0].Expectations = []result.Outcome{{Name: "contains " + attack, Detail: attack}}
	res.Hosts[2].Name = attack + "-2"
	return res
}

// Hostile output is inert in a real browser: nothing runs, nothing is
// fetched, no element is made of it, and it shows as the text it was.
func TestHTMLHostileInBrowser(t *testing.T) {
	b, url := open(t, hostileResult())
	click(t, b, "nav button[data-open='1']")
	click(t, b, `label[for=view-groups]`)
	click(t, b, "nav button[data-open='1']")
	if n := eval[int](t, b, `document.querySelectorAll("img, svg, iframe, a, link, object, embed, meta[http-equiv=refresh], body [onload], [onerror]").length`); n != 0 {
		t.Errorf("%d elements made of remote text", n)
	}
	if n := eval[int](t, b, `document.scripts.length + document.querySelectorAll("style").length * 10`); n != 12 {
		t.Errorf("scripts and styles: %d, want the page's own two scripts and one style", n)
	}
	shown := eval[string](t, b, `document.body.innerText`)
	for _, want := range []string{"<img src=x onerror=alert('img')>", "</script><script>alert('script')</script>", "a<U+202E>evil<U+202C>b"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the page does not show %q as text", want)
		}
	}
	b.quiet(t, url)
}
