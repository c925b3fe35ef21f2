package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"everywhere/internal/compare"
	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// The page's own style and script, inlined so that the file is the whole
// report: it opens from file:// and from a CI artifact viewer and fetches
// nothing.
var (
	//go:embed html.tmpl
	htmlSource string
	//go:embed html.css
	htmlCSS string
	//go:embed html.js
	htmlJS string

	htmlPage = template.Must(template.New("report").Parse(htmlSource))
	// htmlCSP lets the page run its own script and nothing else, fetch
	// nothing at all, and take no <base> or form target: were some text
	// ever to escape html/template's escaping or the script's textContent,
	// the browser would still refuse to run, load or send it.
	htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" + sha256Base64(htmlJS) + "'; base-uri 'none'; form-action 'none'"
)

func sha256Base64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// htmlView is what the template draws itself: the header, the failures by
// reason and the network matrices, all small. The hosts × steps layouts
// are drawn by the page's script from View and the embedded result, a
// screen at a time, so that 2,000 hosts cost what 30 do.
type htmlView struct {
	CSP     string
	CSS     template.CSS
	JS      template.JS
	Title   string
	Facts   [][2]string
	Summary string
	Failed  bool // the run failed: the summary in red
	Flaky   bool // … else a step passed only on a retry: in amber
	Reasons htmlReasons
	Doc     template.JS // the result document, for `everywhere report page.html`
	View    template.JS // pageData
	// The network matrices, the failing pairs first.
	FailedPairs  []string
	Matrices     []htmlMatrix
	EmulatedNote string
}

// htmlReasons is the table of failures by reason: a row per reason with
// its count per step; only steps that failed somewhere are columns.
type htmlReasons struct {
	Columns []string
	Rows    []htmlReasonRow
	More    int  // reasons left out of the table
	Flaky   bool // every row is a flaky step's: nothing failed
}

type htmlReasonRow struct {
	Index        int // into pageData.Reasons: the row links to #reason=Index
	Icon, Reason string
	Status       result.Status
	Total        int
	Counts       []int // per Columns; 0 shows blank
}

// maxReasonRows bounds the table; reasons past it are counted, and the
// script's text search still finds their cells.
const maxReasonRows = 50

// maxPanes is the most hosts the page lays out as panes unless asked.
const maxPanes = 9

// pageData is what the page's script draws from beside the result
// document: everything Go decides (clean text, which hosts differ, the
// groups, the reasons). An output's text is read from the result itself,
// on demand, unless cleaning or the output limit changed it (Extra).
type pageData struct {
	Layout  string                   `json:"layout"` // when the URL names none
	Why     string                   `json:"why"`    // why that one
	Icons   map[result.Status]string `json:"icons"`
	Steps   []pageStep               `json:"steps"`
	Hosts   []pageHost               `json:"hosts"`
	Cells   []string                 `json:"cells"` // per host a status letter per step (see statusLetter); upper case: the host differs
	Times   []string                 `json:"times"` // per host each step's duration, space-separated
	Extra   map[string]*pageBody     `json:"extra"` // by "host.step" (indices): a cell's reason, expectations, signal, cleaned or cut streams
	Connect []pageGroup              `json:"connect,omitempty"`
	Groups  [][]pageGroup            `json:"groups"` // per step, the largest first
	Reasons []pageReason             `json:"reasons"`
}

type pageStep struct {
	Label   string `json:"l"`
	Command string `json:"c,omitempty"`
	Cleanup bool   `json:"k,omitempty"`
	Index   int    `json:"i"` // into the result's steps or cleanup
}

type pageHost struct {
	Name     string   `json:"n"`
	Arch     string   `json:"a"`
	Address  string   `json:"d,omitempty"`
	Labels   []string `json:"l,omitempty"`
	Reported string   `json:"r,omitempty"` // the arch the host named, when a step learned it
	Mismatch bool     `json:"m,omitempty"` // … and it is not the declared one
	Emulated bool     `json:"e,omitempty"`
	Connect  string   `json:"c,omitempty"` // connect time, when reached
	Error    string   `json:"x,omitempty"` // why not, when not
	Status   string   `json:"s"`           // a status letter
}

// pageBody is all that was kept of a step or a group, clean: reason, the
// expectations, each stream's head, cut and tail, how it exited.
type pageBody struct {
	Reason  string       `json:"r,omitempty"`
	Exit    string       `json:"x,omitempty"`
	Expect  []pageExpect `json:"e,omitempty"`
	Streams []htmlStream `json:"f,omitempty"` // failures: stderr first
}

type pageExpect struct {
	Name   string `json:"n"`
	OK     bool   `json:"ok,omitempty"`
	Detail string `json:"d,omitempty"`
}

type htmlStream struct {
	Name string `json:"n"`
	Head string `json:"h,omitempty"`
	Tail string `json:"t,omitempty"`
	Cut  string `json:"c,omitempty"` // the line that stands for what the output limit cut, if it cut
}

type pageGroup struct {
	Status string    `json:"s"` // a status letter
	Odd    bool      `json:"o,omitempty"`
	Head   string    `json:"h"` // status and durations
	Hosts  string    `json:"l"` // folded
	IDs    []int     `json:"i"` // indices into hosts
	Body   *pageBody `json:"b,omitempty"`
}

// pageReason is one reason of the failures table: its cells as host, step
// pairs (step -1: connecting), for the #reason= filter.
type pageReason struct {
	Status string `json:"s"`
	Reason string `json:"r"`
	Cells  []int  `json:"c"`
}

// statusLetter is a status as the page's data spells it, one letter (k:
// flaky, f being failed's); html.js's NAME reads them back.
var statusLetter = map[result.Status]string{result.OK: "o", result.Flaky: "k", result.Failed: "f", result.Timeout: "t", result.Error: "e", result.Skipped: "s", "": "-"}

// HTML writes the result as one self-contained page for a reviewer: hosts
// × steps as columns, groups or panes (as in the terminal), a cell's
// colour its status, the first lines of every output in view, search and
// filters by host, arch, label, step, status and text kept in the URL
// with a link to every cell, and failures grouped by reason. The result
// document is embedded once (see result.ReadFile) and the page's script
// draws only what is on screen. All remote text is neutralised by
// text.Clean, escaped by html/template or set as text by the script.
func HTML(w io.Writer, res *result.Result) error {
	outcomes := groupSteps(res)
	doc := *res
	doc.Groups = groupsOf(res, outcomes)
	// Marshalled here, not by the template's escaper, which costs a fifth
	// of a big fleet's page; json.Marshal writes every < as \u003c, so no
	// </script> can end the element early.
	embedded, err := json.Marshal(&doc)
	if err != nil {
		return err
	}
	picks := stepPicks(res)
	data := newPageData(res, picks, outcomes)
	v := htmlView{CSP: htmlCSP, CSS: template.CSS(htmlCSS), JS: template.JS(htmlJS), Doc: template.JS(embedded),
		Title: text.Line(res.Plan) + " · everywhere", Summary: summaryLine(res), Failed: res.ExitCode() != result.ExitOK,
		Flaky: res.Counts()[result.Flaky] > 0}
	data.Reasons, v.Reasons = failureReasons(res, picks)
	view, err := json.Marshal(data)
	if err != nil {
		return err
	}
	v.View = template.JS(view)
	v.Facts = [][2]string{{"plan", text.Line(res.Plan)}, {"run", text.Line(res.RunID)}}
	if !res.Started.IsZero() {
		v.Facts = append(v.Facts, [2]string{"started", res.Started.UTC().Format(time.RFC3339)})
	}
	v.Facts = append(v.Facts, [2]string{"duration", formatDuration(durationMS(res.DurationMS))})
	if res.Version != "" {
		v.Facts = append(v.Facts, [2]string{"everywhere", text.Line(res.Version)})
	}
	v.htmlMatrices(res)
	return htmlPage.Execute(w, v)
}

// hostsThatDiffer says, per step and host, whether the host is an odd one
// out of that step, as the one comparison (compare.Group.Odd) decided it
// for every view. It is the page's one answer to which hosts differ;
// cells, groups and the "differs" filter all read it.
func hostsThatDiffer(res *result.Result, steps []stepOutcomes) [][]bool {
	odd := make([][]bool, len(steps))
	for i, so := range steps {
		odd[i] = make([]bool, len(res.Hosts))
		for _, o := range so.outcomes {
			for _, h := range o.hosts {
				odd[i][h] = o.odd
			}
		}
	}
	return odd
}

// newPageData is what the page's script needs of res beside the result
// itself, for the columns picks and the steps' outcomes.
func newPageData(res *result.Result, picks []stepPick, outcomes []stepOutcomes) *pageData {
	d := &pageData{Extra: map[string]*pageBody{}, Icons: map[result.Status]string{}}
	for s := range statusLetter {
		if s != "" {
			d.Icons[s] = statusIcon(s)
		}
	}
	d.Layout, d.Why = "columns", "columns: more than "+strconv.Itoa(maxPanes)+" hosts, a row each"
	if len(res.Hosts) <= maxPanes {
		d.Layout, d.Why = "panes", "panes: "+strconv.Itoa(maxPanes)+" hosts or fewer"
	}
	for _, p := range picks {
		d.Steps = append(d.Steps, pageStep{Label: text.Line(p.label), Command: text.Line(commandOf(res, p.pick)), Cleanup: p.cleanup, Index: p.index})
	}
	odd := hostsThatDiffer(res, outcomes)
	var cells, times strings.Builder
	for hi, h := range res.Hosts {
		ph := pageHost{Name: text.Line(h.Name), Arch: text.Line(h.Arch), Address: text.Line(h.Address), Status: statusLetter[h.Status]}
		for _, l := range h.Labels {
			ph.Labels = append(ph.Labels, text.Line(l))
		}
		if h.Error == "" {
			ph.Connect = formatDuration(durationMS(h.ConnectMS))
		} else {
			ph.Error = text.Clean(h.Error)
		}
		reported, emulated := reportedArch(h)
		ph.Reported, ph.Emulated = text.Line(reported), emulated != ""
		if a, err := host.ParseArch(reported); err == nil {
			declared, _ := host.ParseArch(h.Arch)
			ph.Mismatch = a != declared
		}
		d.Hosts = append(d.Hosts, ph)
		cells.Reset()
		times.Reset()
		for ci, p := range picks {
			s := p.pick(h)
			if ci > 0 {
				times.WriteByte(' ')
			}
			if s == nil {
				cells.WriteString(statusLetter[""])
				times.WriteString("-")
				continue
			}
			letter := statusLetter[s.Status]
			if letter == "" { // a status this everywhere does not know
				letter = statusLetter[result.Error]
			}
			if odd[ci][hi] {
				letter = strings.ToUpper(letter)
			}
			cells.WriteString(letter)
			times.WriteString(formatDuration(s.Duration()))
			if e := cellExtra(s); e != nil {
				d.Extra[strconv.Itoa(hi)+"."+strconv.Itoa(ci)] = e
			}
		}
		d.Cells = append(d.Cells, cells.String())
		d.Times = append(d.Times, times.String())
	}
	d.Connect, d.Groups = pageGroups(res, outcomes, odd)
	return d
}

// cellExtra is what a cell shows beyond its raw output: its reason,
// expectations and signal, and those streams that cleaning or the output
// limit changed; nil when there is nothing.
func cellExtra(s *result.StepResult) *pageBody {
	b := bodyOf(s, nil)
	if s.Signal == "" {
		b.Exit = "" // "exit N": the script reads N from the result
	}
	streams := b.Streams
	b.Streams = nil
	for _, st := range streams {
		raw := s.Stdout
		if st.Name == "stderr" {
			raw = s.Stderr
		}
		if st.Cut != "" || st.Head != raw || st.Tail != "" {
			b.Streams = append(b.Streams, st)
		}
	}
	if b.Reason == "" && b.Exit == "" && len(b.Expect) == 0 && len(b.Streams) == 0 {
		return nil
	}
	return &b
}

type htmlMatrix struct {
	Title string
	Hosts []string
	Rows  []htmlMatrixRow
}

type htmlMatrixRow struct {
	Name  string
	Cells []htmlMatrixCell
}

type htmlMatrixCell struct{ Class, Detail, Figure string }

// htmlMatrices fills v's network matrices from res.
func (v *htmlView) htmlMatrices(res *result.Result) {
	matrices := res.NetMatrices()
	for _, p := range res.FailedPairs() {
		v.FailedPairs = append(v.FailedPairs, text.Line(failedPairLine(p)))
	}
	for _, m := range matrices {
		hm := htmlMatrix{Title: text.Line(matrixTitle(m))}
		for i, h := range m.Hosts {
			hm.Hosts = append(hm.Hosts, text.Line(h))
			row := htmlMatrixRow{Name: text.Line(h)}
			for _, c := range m.Cells[i] {
				cell := htmlMatrixCell{Class: "s-ok", Figure: matrixFigure(c)}
				switch {
				case c == nil:
					cell.Class = ""
				case !c.Ran:
					cell.Class = "s-skipped"
				case !c.OK:
					cell.Class = "s-failed"
				}
				if c != nil {
					cell.Detail = text.Line(c.Detail)
				}
				row.Cells = append(row.Cells, cell)
			}
			hm.Rows = append(hm.Rows, row)
		}
		v.Matrices = append(v.Matrices, hm)
	}
	if anyEmulated(matrices) {
		v.EmulatedNote = emulatedFootnote
	}
}

// stepPick is one column of the grid: a step or a cleanup step.
type stepPick struct {
	label   string
	cleanup bool
	index   int // into the result's steps or cleanup
	pick    func(result.HostResult) *result.StepResult
}

func stepPicks(res *result.Result) []stepPick {
	var picks []stepPick
	for i, name := range res.Steps {
		picks = append(picks, stepPick{name, false, i, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) }})
	}
	for i, name := range res.Cleanup {
		picks = append(picks, stepPick{result.CleanupLabel(name), true, i, func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) }})
	}
	return picks
}

// commandOf is the step's command as the first host that ran it has it.
func commandOf(res *result.Result, pick func(result.HostResult) *result.StepResult) string {
	for _, h := range res.Hosts {
		if s := pick(h); s != nil && s.Command != "" {
			return s.Command
		}
	}
	return ""
}

// reportedArch is the architecture the host itself named, when a step
// learned it: a probe's facts, else the output of a step that checked it
// against the declared one (expect: arch_matches_host). emulated is "yes"
// when a probe says so, else empty: a foreign binary run by qemu-user
// reports the architecture it emulates, so only a backend can tell.
func reportedArch(h result.HostResult) (reported, emulated string) {
	for _, s := range h.Steps {
		if s.Facts != nil && s.Facts.Note != "" && strings.Contains(s.Facts.Note, "emulation") {
			emulated = "yes"
		}
		if reported != "" {
			continue
		}
		if s.Facts != nil && s.Facts.Arch != "" && s.Name == "shell" {
			reported = s.Facts.Arch
		}
		for _, e := range s.Expectations {
			if strings.HasPrefix(e.Name, "arch_matches_host") && s.ExitCode != nil {
				if _, words := host.ArchesIn(s.Stdout); len(words) > 0 {
					reported = words[0]
				}
			}
		}
	}
	return reported, emulated
}

// bodyOf is all that was kept of a step, failures first: the reason, then
// stderr before stdout for a step that is not ok. mask rewrites remote
// text (nil: as it is).
func bodyOf(s *result.StepResult, mask func(string) string) pageBody {
	if mask == nil {
		mask = func(s string) string { return s }
	}
	b := pageBody{Reason: text.Clean(mask(s.Summary()))}
	if s.ExitCode != nil {
		b.Exit = "exit " + strconv.Itoa(*s.ExitCode)
	}
	if s.Signal != "" {
		b.Exit = "killed by " + host.SignalName(s.Signal)
	}
	for _, e := range s.Expectations {
		b.Expect = append(b.Expect, pageExpect{Name: text.Line(mask(e.Name)), OK: e.OK, Detail: text.Clean(mask(e.Detail))})
	}
	stdout := streamOf("stdout", mask(s.Stdout), s.StdoutTruncated, s.StdoutBytes)
	stderr := streamOf("stderr", mask(s.Stderr), s.StderrTruncated, s.StderrBytes)
	if !result.Passed(s.Status) && s.Status != result.Skipped { // as the terminal's cells: a flaky step passed
		stdout, stderr = stderr, stdout
	}
	for _, st := range []htmlStream{stdout, stderr} {
		if st.Head != "" || st.Tail != "" || st.Cut != "" {
			b.Streams = append(b.Streams, st)
		}
	}
	return b
}

func streamOf(name, kept string, truncated bool, total int64) htmlStream {
	head, tail, cut, ok := splitStream(kept, truncated)
	st := htmlStream{Name: name, Head: text.Clean(head), Tail: text.Clean(tail)}
	switch {
	case ok:
		st.Cut = "[… " + bytesText(cut.Bytes) + ", " + strconv.FormatInt(cut.Lines, 10) + " lines not kept (--output-limit) …]"
	case truncated:
		st.Cut = "[… " + bytesText(int64(len(kept))) + " kept of " + bytesText(total) + " …]"
	}
	return st
}

// pageGroups is the grouped layout: connecting, then each step's
// outcomes, the largest first, each shown through its first host's masks;
// a group is odd when its hosts differ (odd, per step and host).
func pageGroups(res *result.Result, steps []stepOutcomes, odd [][]bool) ([]pageGroup, [][]pageGroup) {
	hostList := hostLister(res, 0)
	var connect []pageGroup
	if unreached(res) {
		reached, errors, byError := connectOutcomes(res)
		if len(reached) > 0 {
			connect = append(connect, pageGroup{Status: statusLetter[result.OK], Head: "reached", Hosts: hostList(reached), IDs: reached})
		}
		for _, e := range errors {
			connect = append(connect, pageGroup{Odd: len(reached) > 0, Status: statusLetter[result.Error], Head: "unreachable",
				Hosts: hostList(byError[e]), IDs: byError[e], Body: &pageBody{Reason: text.Clean(e)}})
		}
	}
	var out [][]pageGroup
	for si, so := range steps {
		var groups []pageGroup
		for _, o := range so.outcomes {
			g := pageGroup{Odd: odd[si][o.hosts[0]], Status: statusLetter[o.status], Hosts: hostList(o.hosts), IDs: o.hosts}
			if g.Status == "" {
				g.Status = statusLetter[result.Error]
			}
			if o.step == nil {
				g.Head = "no such step"
			} else {
				g.Head = string(o.status)
				if o.status != result.Skipped {
					g.Head += " " + formatDuration(durationMS(o.minMS))
					if o.maxMS != o.minMS {
						g.Head += "–" + formatDuration(durationMS(o.maxMS))
					}
				}
				b := bodyOf(o.step, o.mask)
				g.Body = &b
			}
			groups = append(groups, g)
		}
		out = append(out, groups)
	}
	return connect, out
}

// failureReasons gathers every cell that failed, timed out, erred or
// passed only on a retry (flaky), and every host not reached, by status
// and reason (each host's identity masked), failures before flaky steps,
// the most frequent first: for the table and its filter.
func failureReasons(res *result.Result, picks []stepPick) ([]pageReason, htmlReasons) {
	type reason struct {
		status result.Status
		text   string // masked; shown only where the cells' raw texts differ
		raw    string // the first cell's, shown where every cell's is the same
		varied bool
		counts []int // [0] connecting, [1+i] picks[i]
		total  int
		cells  []int
	}
	var all []*reason
	byKey := map[string]*reason{}
	add := func(h, step int, status result.Status, raw, why string) {
		key := string(status) + "\x00" + why
		r := byKey[key]
		if r == nil {
			r = &reason{status: status, text: why, raw: raw, counts: make([]int, len(picks)+1)}
			byKey[key] = r
			all = append(all, r)
		}
		r.varied = r.varied || raw != r.raw
		r.counts[step+1]++
		r.total++
		r.cells = append(r.cells, h, step)
	}
	for hi, h := range res.Hosts {
		mask := compare.IdentityOf(h, res.RunID).Mask(!compare.NameIsAWord(h.Name)).Apply
		if h.Error != "" {
			add(hi, -1, result.Error, h.Error, mask(h.Error))
		}
		for ci, p := range picks {
			if s := p.pick(h); s != nil && s.Status != result.OK && s.Status != result.Skipped {
				add(hi, ci, s.Status, s.Summary(), mask(s.Summary()))
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if fi, fj := result.Passed(all[i].status), result.Passed(all[j].status); fi != fj {
			return fj
		}
		return all[i].total > all[j].total
	})
	used := make([]bool, len(picks)+1)
	for _, r := range all {
		for i, n := range r.counts {
			used[i] = used[i] || n > 0
		}
	}
	table := htmlReasons{Flaky: len(all) > 0 && result.Passed(all[0].status)}
	for i, u := range used {
		switch {
		case !u:
		case i == 0:
			table.Columns = append(table.Columns, "connect")
		default:
			table.Columns = append(table.Columns, text.Line(picks[i-1].label))
		}
	}
	data := make([]pageReason, len(all))
	for ri, r := range all {
		// A mask never hides an answer: a reason every cell gave alike is
		// shown as it was given.
		why := text.Line(r.raw)
		if r.varied {
			why = text.Line(r.text)
		}
		data[ri] = pageReason{Status: statusLetter[r.status], Reason: why, Cells: r.cells}
		if ri >= maxReasonRows {
			table.More++
			continue
		}
		row := htmlReasonRow{Index: ri, Icon: statusIcon(r.status), Reason: why, Status: r.status, Total: r.total}
		for i, u := range used {
			if u {
				row.Counts = append(row.Counts, r.counts[i])
			}
		}
		table.Rows = append(table.Rows, row)
	}
	return data, table
}
