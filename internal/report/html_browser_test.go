package report

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// chromium finds Debian's chromium. Under CI=true (scripts/install-deps
// installs it) a missing browser fails the test; elsewhere it skips.
func chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("no chromium on PATH (scripts/install-deps installs it)")
	}
	tb.Skip("no chromium on PATH: apt-get install chromium")
	return ""
}

// launch starts a headless chromium of its own (a fresh profile, nothing
// in the background that could call out) and returns a tab's context.
func launch(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	path := chromium(tb)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(tb.TempDir()), chromedp.WindowSize(1400, 900)}
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tb.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	tb.Cleanup(cancelTab)
	return ctx
}

// writePage renders res as HTML into a file of its own.
func writePage(tb testing.TB, res *result.Result) string {
	tb.Helper()
	var doc bytes.Buffer
	if err := HTML(&doc, res); err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "report.html")
	if err := os.WriteFile(file, doc.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return file
}

// browser is a page of headless chromium and what it did: every request,
// console message, uncaught exception and dialog.
type browser struct {
	ctx                                    context.Context
	mu                                     sync.Mutex
	requests, console, exceptions, dialogs []string
}

// open renders res as HTML to a file and loads it in headless chromium,
// at fragment (the page's state, may be empty).
func open(t *testing.T, res *result.Result, fragment string) (*browser, string) {
	t.Helper()
	file := writePage(t, res)
	ctx := launch(t, 90*time.Second)
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
	if err := chromedp.Do(ctx, chromedp.Navigate(url+fragment), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
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
		what := ev.ExceptionDetails.Text
		if e := ev.ExceptionDetails.Exception; e != nil {
			what += " " + e.Description
		}
		b.exceptions = append(b.exceptions, what)
	case *page.EventJavascriptDialogOpening:
		b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
	}
}

// eval runs a JavaScript expression in the page, waiting for it when it
// is a promise.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
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

// rowNames names the hosts of the columns layout's rows, top to bottom.
const rowNames = `[...document.querySelectorAll("main .gbody .row")].sort((a, b) => a.offsetTop - b.offsetTop).map(r => r.querySelector(".hostcell b").textContent).join(",")`

// set changes a control of the page as a person would, and waits for
// the frame it draws.
func (b *browser) set(t *testing.T, name, value string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(async () => { const e = document.querySelector(".filters [name=%s]"); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); %s; return true })()`, name, value, nextFrame))
}

// fragment is the page's state as its URL keeps it.
func (b *browser) fragment(t *testing.T) string {
	t.Helper()
	return eval[string](t, b, `"#" + [...new URLSearchParams(location.hash.slice(1))].map(([k, v]) => k + "=" + v).join("&")`)
}

// background is the colour a cell is filled with, as [r, g, b].
func background(t *testing.T, b *browser, selector string) [3]int {
	t.Helper()
	rgb := eval[string](t, b, `getComputedStyle(document.querySelector(`+strconv.Quote(selector)+`)).backgroundColor`)
	var c [3]int
	if _, err := fmt.Sscanf(rgb, "rgb(%d, %d, %d)", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("%s: background %q: %v", selector, rgb, err)
	}
	return c
}

func red(c [3]int) bool { return c[0] > 200 && c[0]-c[1] > 40 && c[0]-c[2] > 40 }

func labelled() *result.Result {
	res := fixture()
	for i, labels := range [][]string{{"arm", "lab"}, {"arm"}, {"x86"}, {"x86"}, {"lab"}, {"mainframe"}} {
		res.Hosts[i].Labels = labels
	}
	// pi4's kernel step printed more than the output limit kept.
	k := &res.Hosts[0].Steps[0]
	k.Stdout = "first kept line\n" + host.Cut{Bytes: 5000, Lines: 120}.Marker() + "last kept line\n"
	k.StdoutTruncated, k.StdoutBytes = true, 5100
	return res
}

func TestHTMLInBrowser(t *testing.T) {
	res := labelled()
	b, url := open(t, res, "")
	// Six hosts: a pane each, the reason said once.
	if n := eval[int](t, b, fmt.Sprintf(visible, "main .pane")); n != len(res.Hosts) {
		t.Errorf("%d panes, want %d", n, len(res.Hosts))
	}
	if got := eval[string](t, b, `document.querySelector(".shown").textContent`); !strings.Contains(got, "panes: 9 hosts or fewer") {
		t.Errorf("the layout's reason is not shown: %q", got)
	}

	if got := eval[string](t, b, `document.querySelectorAll("main .pane")[2].innerText`); !strings.Contains(got, "atom · i686 reports x86_64 · failed") || !strings.Contains(got, "machine · failed 0.60s") {
		t.Errorf("atom's pane shows %q, want its name, status and each step's", got)
	}

	click(t, b, "[data-layout=columns]")
	if got := eval[string](t, b, rowNames); got != "pi4,rpi5,atom,build,power9,z15" {
		t.Errorf("rowNames %q, want every host in order", got)
	}
	grid := eval[string](t, b, `document.querySelector("main").innerText`)
	for _, s := range append(res.Steps, "cleanup: tidy") {
		if !strings.Contains(grid, s) {
			t.Errorf("step %s not shown", s)
		}
	}
	// atom's machine cell: red at a glance, its reason and output shown without a click.
	atom := `main .c[data-h="2"][data-s="1"]`
	if c := background(t, b, atom); !red(c) {
		t.Errorf("atom's failed cell is filled %v, not red", c)
	}
	if c := background(t, b, `main .c[data-h="0"][data-s="1"]`); red(c) {
		t.Errorf("pi4's ok cell is filled %v, red", c)
	}
	if got := eval[string](t, b, `document.querySelector(`+strconv.Quote(atom)+`).innerText`); !strings.Contains(got, "x86_64") || !strings.Contains(got, "→ expected arch_matches_host") {
		t.Errorf("atom's cell shows %q without a click, want its reason and output", got)
	}

	// A click opens all of it, and the URL names the cell.
	click(t, b, atom)
	if got := eval[string](t, b, `document.querySelector("#detail").innerText`); !strings.Contains(got, "atom · machine") || !strings.Contains(got, "x86_64") || !strings.Contains(got, "exit 0") {
		t.Errorf("the opened cell shows %q", got)
	}
	if got := b.fragment(t); got != "#layout=columns&cell=atom/machine" {
		t.Errorf("the URL keeps %q", got)
	}
	click(t, b, `main .c[data-h="0"][data-s="0"]`)
	if got := eval[string](t, b, `document.querySelector("#detail pre").innerText`); !strings.Contains(got, "first kept line\n[… 4 KiB, 120 lines not kept (--output-limit) …]\nlast kept line") {
		t.Errorf("a cut output opens as %q", got)
	}
	click(t, b, "#detail .close")
	if eval[bool](t, b, `!document.querySelector("#detail").hidden`) {
		t.Errorf("the cell stays open")
	}

	// Each filter, and the URL that keeps it.
	for _, f := range []struct{ name, value, rows, fragment string }{
		{"status", "bad", "atom,build,power9", "status=bad"},
		{"status", "odd", "pi4,atom,build,power9,z15", "status=odd"},
		{"status", "", "pi4,rpi5,atom,build,power9,z15", ""},
		{"host", "p*", "pi4,power9", "host=p*"},
		{"host", "rpi, z1", "rpi5,z15", "host=rpi, z1"},
		{"host", "", "pi4,rpi5,atom,build,power9,z15", ""},
		{"arch", "arm64", "rpi5", "arch=arm64"},
		{"arch", "ppc64le", "power9", "arch=ppc64le"}, // as the host reported it
		{"arch", "", "pi4,rpi5,atom,build,power9,z15", ""},
		{"label", "lab", "pi4,power9", "label=lab"},
		{"label", "", "pi4,rpi5,atom,build,power9,z15", ""},
		{"q", "ppc64le", "power9", "q=ppc64le"},
		{"q", "", "pi4,rpi5,atom,build,power9,z15", ""},
	} {
		b.set(t, f.name, f.value)
		if got := eval[string](t, b, rowNames); got != f.rows {
			t.Errorf("%s=%q shows %q, want %q", f.name, f.value, got, f.rows)
		}
		if got := b.fragment(t); got != "#layout=columns"+map[bool]string{true: "&" + f.fragment}[f.fragment != ""] {
			t.Errorf("%s=%q: the URL keeps %q", f.name, f.value, got)
		}
	}
	b.set(t, "step", "machine")
	if got := eval[string](t, b, `[...document.querySelectorAll("main .ghead > div")].map(e => e.firstChild.textContent).join(",")`); got != "host,machine" {
		t.Errorf("step=machine shows the columns %q", got)
	}
	b.set(t, "q", "x86_64")
	if got := eval[string](t, b, rowNames); got != "atom" {
		t.Errorf("step=machine, q=x86_64 shows %q, want atom", got)
	}
	if n := eval[int](t, b, `document.querySelectorAll("main .c.hit").length`); n != 1 {
		t.Errorf("%d cells marked as found, want 1", n)
	}
	click(t, b, "[data-clear]")

	// Failures by reason: a row each, a count per step; a click filters.
	// A reason one cell gave is shown as given, not masked.
	table := eval[string](t, b, `document.querySelector(".reasons").innerText`)
	for _, want := range []string{"failed: expected arch_matches_host i686: host reports x86_64 (amd64), inventory declares i686", "error: host build (10.213.0.14:22): unreachable", "timeout: no result within 2m0s"} {
		if !strings.Contains(table, want) {
			t.Errorf("failures by reason lack %q:\n%s", want, table)
		}
	}
	click(t, b, ".reasons tbody tr:nth-child(2) a")
	if got := eval[string](t, b, rowNames); got != "build" {
		t.Errorf("the unreachable reason shows %q, want build", got)
	}
	click(t, b, ".reasons tbody tr:nth-child(2) a")

	// The grouped layout, as in the terminal: i686's wrong answer stands alone.
	click(t, b, "[data-layout=groups]")
	groups := eval[string](t, b, `document.querySelector("main").innerText`)
	for _, want := range []string{"connect", "unreachable · build (1)", "≠ ✘ failed 0.60s · atom (1)", "ok 0.60s · pi4, power9, rpi5, z15 (4)", "<arch>"} {
		if !strings.Contains(groups, want) {
			t.Errorf("grouped layout lacks %q:\n%s", want, groups)
		}
	}
	click(t, b, "main .step:nth-child(3) .group.s-failed")
	if got := eval[string](t, b, `document.querySelector("main .group .body pre").innerText`); !strings.Contains(got, "x86_64") {
		t.Errorf("an opened group shows %q", got)
	}
	b.set(t, "status", "bad")
	if n := eval[int](t, b, `document.querySelectorAll("main .group.s-ok").length`); n != 0 {
		t.Errorf("%d ok groups shown with status=bad", n)
	}
	b.quiet(t, url)
}

// The URL is the page's state: a link opens the page as it was, the cell
// it names open and marked.
func TestHTMLStateFromURL(t *testing.T) {
	b, _ := open(t, labelled(), "#layout=columns&status=bad&cell=power9/eth0")
	if got := eval[string](t, b, rowNames); got != "atom,build,power9" {
		t.Errorf("rowNames %q, want the failures", got)
	}
	if got := eval[string](t, b, `document.querySelector(".filters [name=status]").value`); got != "bad" {
		t.Errorf("the status control shows %q, want bad", got)
	}
	if got := eval[string](t, b, `document.querySelector("#detail h2").textContent`); got != "power9 · eth0" {
		t.Errorf("the cell opened is %q", got)
	}
	if n := eval[int](t, b, `document.querySelectorAll("main .c.target[data-h='4'][data-s='2']").length`); n != 1 {
		t.Errorf("power9's eth0 cell is not marked")
	}
	// Back to another state by the URL alone.
	eval[bool](t, b, `location.hash = "#layout=groups&step=machine"; true`)
	if err := chromedp.Do(b.ctx, chromedp.WaitReady(chromedp.CSS("main .group"))); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, b, `[...document.querySelectorAll("main .step h2")].map(e => e.textContent).join(",")`); got != "machine" {
		t.Errorf("groups of %q shown, want machine only", got)
	}
	if !eval[bool](t, b, `document.querySelector("#detail").hidden`) {
		t.Errorf("the cell stays open once the URL no longer names it")
	}
}

// 2,000 hosts: only the rowNames on screen are built, and scrolling builds
// the others.
func TestHTMLDrawsWhatIsOnScreen(t *testing.T) {
	res := reviewFleet(2000)
	b, url := open(t, res, "")
	if n := eval[int](t, b, `document.querySelectorAll("main .row").length`); n == 0 || n > 40 {
		t.Errorf("%d rowNames built, want a screenful", n)
	}
	if n := eval[int](t, b, `document.getElementsByTagName("*").length`); n > 5000 {
		t.Errorf("%d elements in the page", n)
	}
	eval[bool](t, b, `(async () => { scrollTo(0, document.body.scrollHeight); `+nextFrame+`; return true })()`)
	last := res.Hosts[len(res.Hosts)-1].Name
	if got := eval[string](t, b, rowNames); !strings.HasSuffix(got, ","+last) {
		t.Errorf("at the end, rowNames %q, want the last %s", got, last)
	}
	bad := 0
	for _, h := range res.Hosts {
		if h.Status != result.OK {
			bad++
		}
	}
	b.set(t, "status", "bad")
	if got, want := eval[string](t, b, `document.querySelector(".shown").textContent`), fmt.Sprintf("%d of 2000 hosts", bad); !strings.HasPrefix(got, want) {
		t.Errorf("status=bad: %q, want %q", got, want)
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
	res.Hosts[2].Labels = []string{attack}
	return res
}

// Hostile output is inert in a real browser: nothing runs, nothing is
// fetched, no element is made of it, and it shows as the text it was; in
// every layout, opened, and from a hostile URL too.
func TestHTMLHostileInBrowser(t *testing.T) {
	res := hostileResult()
	b, url := open(t, res, "#q="+neturl.QueryEscape("<img src=x onerror=alert('q')>")+"&cell="+neturl.QueryEscape("<svg onload=alert(1)>/x"))
	b.set(t, "q", "")
	var shown strings.Builder
	for _, layout := range []string{"panes", "columns", "groups"} {
		click(t, b, "[data-layout="+layout+"]")
		for _, sel := range []string{"main .c", "main .group"} {
			for i := range eval[int](t, b, `document.querySelectorAll("`+sel+`").length`) {
				eval[bool](t, b, fmt.Sprintf(`document.querySelectorAll(%q)[%d].click(); true`, sel, i))
				shown.WriteString(eval[string](t, b, `document.body.innerText`))
			}
		}
	}
	click(t, b, "[data-layout=columns]")
	click(t, b, "main .hostcell.s-error")
	shown.WriteString(eval[string](t, b, `document.body.innerText`))
	if n := eval[int](t, b, `document.querySelectorAll("img, svg, iframe, a:not([href^='#']), link, object, embed, meta[http-equiv=refresh], body [onload], [onerror]").length`); n != 0 {
		t.Errorf("%d elements made of remote text", n)
	}
	if n := eval[int](t, b, `document.scripts.length + document.querySelectorAll("style").length * 10`); n != 13 {
		t.Errorf("scripts and styles: %d, want the page's own three scripts and one style", n)
	}
	for _, want := range []string{"<img src=x onerror=alert('img')>", "</script><script>alert('script')</script>", "a<U+202E>evil<U+202C>b", "! unreachable"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("the page does not show %q as text", want)
		}
	}
	b.quiet(t, url)
}

// A result with no hosts, or hosts and no steps, is a page too: no
// exception, nothing but itself requested.
func TestHTMLEmptyInBrowser(t *testing.T) {
	empty := &result.Result{Schema: result.Schema, RunID: "r", Plan: "nothing", Steps: []string{"never"}}
	b, url := open(t, empty, "#layout=groups")
	if got := eval[string](t, b, `document.querySelector(".shown").textContent`); !strings.HasPrefix(got, "0 of 0 hosts") {
		t.Errorf("an empty result shows %q", got)
	}
	b.quiet(t, url)
	stepless := tiny(2, "true", withOutput("", ""))
	stepless.Steps = nil
	for i := range stepless.Hosts {
		stepless.Hosts[i].Steps = nil
	}
	next := "file://" + writePage(t, stepless)
	for _, layout := range []string{"columns", "groups", "panes"} {
		if err := chromedp.Do(b.ctx, chromedp.Navigate(next+"#layout="+layout), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, b, `document.querySelector(".shown").textContent`); !strings.HasPrefix(got, "2 of 2 hosts") {
			t.Errorf("%s: hosts without steps show %q", layout, got)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.console)+len(b.exceptions) > 0 {
		t.Errorf("console %q, exceptions %q", b.console, b.exceptions)
	}
}

// amber is a flaky cell's fill: warm, neither the red of a failure nor
// the white of a pass.
func amber(c [3]int) bool { return c[0] > 200 && c[1] > 150 && c[0]-c[2] > 30 && c[1]-c[2] > 20 }

// contrast is WCAG's contrast ratio of an element's text colour on its
// fill (its own, else the nearest ancestor's).
func contrast(t *testing.T, b *browser, selector string) float64 {
	t.Helper()
	return eval[float64](t, b, `(() => {
		let e = document.querySelector(`+strconv.Quote(selector)+`);
		const color = getComputedStyle(e).color;
		while (e.parentElement && /^rgba\(.*, 0\)$|^transparent$/.test(getComputedStyle(e).backgroundColor)) e = e.parentElement;
		const lum = (css) => {
			const [r, g, b] = css.match(/\d+(\.\d+)?/g).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const [hi, lo] = [lum(color), lum(getComputedStyle(e).backgroundColor)].sort((x, y) => y - x);
		return (hi + 0.05) / (lo + 0.05);
	})()`)
}

// A step that passed on a retry is drawn flaky, in amber, in every
// layout and filter and in both themes, never as an error.
func TestHTMLFlakyInBrowser(t *testing.T) {
	b, url := open(t, flakyFixture(), "#layout=columns")
	cell := `main .c[data-h="1"][data-s="0"]`
	if got := eval[string](t, b, `document.querySelector(`+strconv.Quote(cell)+`).className`); !strings.Contains(got, "s-flaky") {
		t.Errorf("arm64's apt cell has classes %q, want s-flaky", got)
	}
	if c := background(t, b, cell); !amber(c) {
		t.Errorf("the flaky cell is filled %v, not amber", c)
	}
	if c := background(t, b, cell+" .top"); !amber(c) {
		t.Errorf("the flaky cell's status line is filled %v, not amber", c)
	}
	if c := background(t, b, `main .c[data-h="2"][data-s="0"]`); !red(c) {
		t.Errorf("the failed cell is filled %v, not red", c)
	}
	if got := eval[string](t, b, `document.querySelector(`+strconv.Quote(cell)+`).innerText`); !strings.Contains(got, "≈ flaky 3.00s") || !strings.Contains(got, "→ passed on try 2") {
		t.Errorf("the flaky cell shows %q, want its status, time and reason", got)
	}

	b.set(t, "status", "flaky")
	if got := eval[string](t, b, rowNames); got != "arm64-trixie" {
		t.Errorf("status=flaky shows %q, want arm64-trixie", got)
	}
	if got := eval[string](t, b, `document.querySelector(".shown").textContent`); got != "1 of 3 hosts · 1 cell" {
		t.Errorf("status=flaky counts %q", got)
	}
	b.set(t, "status", "bad")
	if got := eval[string](t, b, rowNames); got != "s390x-trixie" {
		t.Errorf("status=bad (failures) shows %q, want s390x-trixie only", got)
	}
	b.set(t, "status", "")

	click(t, b, cell)
	if got := eval[string](t, b, `document.querySelector("#detail .status").className + " " + document.querySelector("#detail .status").textContent`); got != "status s-flaky ≈ flaky · 3.00s · ≠ differs from the step's largest group" {
		t.Errorf("the opened flaky cell says %q", got)
	}
	click(t, b, "#detail .close")

	rows := eval[string](t, b, `[...document.querySelectorAll(".reasons tbody tr")].map(r => r.className + " " + r.querySelector("a").textContent).join("\n")`)
	if want := "s-failed ✘ failed: exit status 100"; !strings.HasPrefix(rows, want) || !strings.Contains(rows, "\ns-flaky ≈ flaky: passed on try 2 (try 1: exit status 139)") {
		t.Errorf("failures by reason:\n%s\nwant the failure first, then the flaky step", rows)
	}

	click(t, b, "[data-layout=groups]")
	if got := eval[string](t, b, `document.querySelector("main .group.s-flaky .head").textContent`); !strings.HasPrefix(got, "≠ ≈ flaky 3.00s · arm64-trixie") {
		t.Errorf("the flaky group's head %q", got)
	}
	if c := background(t, b, "main .group.s-flaky"); !amber(c) {
		t.Errorf("the flaky group is filled %v, not amber", c)
	}
	click(t, b, "[data-layout=panes]")
	if got := eval[string](t, b, `document.querySelectorAll("main .pane")[1].className`); got != "pane s-flaky" {
		t.Errorf("arm64's pane has classes %q", got)
	}
	if c := background(t, b, "main .pane.s-flaky .title"); !amber(c) {
		t.Errorf("the flaky pane's title is filled %v, not amber", c)
	}

	// Dark: still amber apart from red, and every cell's text readable on
	// its fill (WCAG's 4.5:1), the ok one's too.
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	click(t, b, "[data-layout=columns]")
	if c := background(t, b, cell+" .top"); !amber(c) {
		t.Errorf("dark: the flaky cell's status line is filled %v, not amber", c)
	}
	for h, what := range []string{"ok", "flaky", "failed"} {
		for _, part := range []string{"", " .top"} {
			sel := fmt.Sprintf(`main .c[data-h="%d"][data-s="0"]%s`, h, part)
			if r := contrast(t, b, sel); r < 4.5 {
				t.Errorf("dark: the %s cell's%s text has a contrast of %.1f:1 on its fill", what, part, r)
			}
		}
	}
	b.quiet(t, url)
}
