package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

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
	// htmlCSP lets the page run its own script and nothing else, and fetch
	// nothing at all: were some text ever to escape html/template's
	// escaping, the browser would still refuse to run or load it.
	htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" + sha256Base64(htmlJS) + "'"
)

func sha256Base64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// heatLevels is how many shades of a cell's duration the page draws.
const heatLevels = 10

type htmlView struct {
	CSP        string
	CSS        template.CSS
	JS         template.JS
	Title      string
	Facts      [][2]string
	Summary    string
	Failed     bool
	Columns    []htmlColumn
	Hosts      []htmlHost
	Unreached  bool
	Connect    []htmlGroup // the grouped view's connect block
	StepGroups []htmlStepGroup
	Doc        template.JS // the result document, for `everywhere report page.html`
	// The network matrices, the failing pairs first.
	FailedPairs  []string
	Matrices     []htmlMatrix
	EmulatedNote string
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

type htmlColumn struct{ Name, Command string }

type htmlHost struct {
	Name, Arch, Reported, Emulated, Address string
	ArchMismatch                            bool
	Status                                  result.Status
	Connect                                 string // connect time, or empty when not reached
	Error                                   string
	Cells                                   template.HTML // see markup
}

// htmlBody is what a cell or group holds when expanded: all that was kept.
type htmlBody struct {
	Reason       string
	Exit         string
	Expectations []result.Outcome
	Streams      []htmlStream
}

type htmlStream struct {
	Name       string
	Head, Tail string
	Cut        string // the line that stands for what the output limit cut, if it cut
}

type htmlStepGroup struct {
	Name, Command string
	Groups        []htmlGroup
}

type htmlGroup struct {
	OK, Odd bool
	Status  result.Status
	Icon    string
	Head    string // status and durations
	Hosts   string // folded
	Count   int
	Body    template.HTML
}

// HTML writes the result as one self-contained page: the grid of hosts ×
// steps with status colours and each cell's duration as a heat shade, the
// grouped view as a toggle, every cell expandable to all of its kept
// output, a failures-only filter, the run's and each host's facts, and the
// result document itself (see result.ReadFile). All remote text is
// neutralised by text.Clean and escaped by html/template.
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
	v := htmlView{CSP: htmlCSP, CSS: template.CSS(htmlCSS), JS: template.JS(htmlJS), Doc: template.JS(embedded),
		Title: text.Line(res.Plan) + " · everywhere", Summary: summaryLine(res), Failed: res.ExitCode() != result.ExitOK, Unreached: unreached(res)}
	v.Facts = [][2]string{{"plan", text.Line(res.Plan)}, {"run", text.Line(res.RunID)}}
	if !res.Started.IsZero() {
		v.Facts = append(v.Facts, [2]string{"started", res.Started.UTC().Format(time.RFC3339)})
	}
	v.Facts = append(v.Facts, [2]string{"duration", formatDuration(durationMS(res.DurationMS))})
	if res.Version != "" {
		v.Facts = append(v.Facts, [2]string{"everywhere", text.Line(res.Version)})
	}
	picks := stepPicks(res)
	for _, p := range picks {
		v.Columns = append(v.Columns, htmlColumn{Name: text.Line(p.label), Command: text.Line(commandOf(res, p.pick))})
	}
	var slowest int64
	for _, h := range res.Hosts {
		for _, p := range picks {
			if s := p.pick(h); s != nil {
				slowest = max(slowest, s.DurationMS)
			}
		}
	}
	v.Hosts = make([]htmlHost, len(res.Hosts))
	for hi, h := range res.Hosts {
		hh := htmlHost{Name: text.Line(h.Name), Arch: text.Line(h.Arch), Address: text.Line(h.Address), Status: h.Status, Error: text.Clean(h.Error)}
		if h.Error == "" {
			hh.Connect = formatDuration(durationMS(h.ConnectMS))
		}
		reported, emulated := reportedArch(h)
		hh.Reported, hh.Emulated = text.Line(reported), emulated
		if a, err := host.ParseArch(reported); err == nil {
			declared, _ := host.ParseArch(h.Arch)
			hh.ArchMismatch = a != declared
		}
		var m markup
		for _, p := range picks {
			m.cell(p.pick(h), slowest)
		}
		hh.Cells = m.html()
		v.Hosts[hi] = hh
	}
	v.Connect, v.StepGroups = htmlGroups(res, outcomes)
	v.htmlMatrices(res)
	return htmlPage.Execute(w, v)
}

// heat is a cell's shade: where the run's time went, the slowest cell the
// deepest, on a square-root scale so that a step of seconds still shows
// beside one of minutes.
func heat(ms, slowest int64) int {
	if slowest <= 0 || ms <= 0 {
		return 0
	}
	return int(math.Sqrt(float64(ms)/float64(slowest)) * (heatLevels - 1))
}

// stepPick is one column of the grid: a step or a cleanup step.
type stepPick struct {
	label string
	pick  func(result.HostResult) *result.StepResult
}

func stepPicks(res *result.Result) []stepPick {
	var picks []stepPick
	for i, name := range res.Steps {
		picks = append(picks, stepPick{name, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) }})
	}
	for i, name := range res.Cleanup {
		picks = append(picks, stepPick{result.CleanupLabel(name), func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) }})
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
func bodyOf(s *result.StepResult, mask func(string) string) htmlBody {
	if mask == nil {
		mask = func(s string) string { return s }
	}
	b := htmlBody{Reason: text.Clean(mask(s.Summary()))}
	if s.ExitCode != nil {
		b.Exit = "exit " + strconv.Itoa(*s.ExitCode)
	}
	if s.Signal != "" {
		b.Exit = "killed by " + host.SignalName(s.Signal)
	}
	for _, e := range s.Expectations {
		b.Expectations = append(b.Expectations, result.Outcome{Name: text.Line(mask(e.Name)), OK: e.OK, Detail: text.Clean(mask(e.Detail))})
	}
	stdout := streamOf("stdout", mask(s.Stdout), s.StdoutTruncated, s.StdoutBytes)
	stderr := streamOf("stderr", mask(s.Stderr), s.StderrTruncated, s.StderrBytes)
	if s.Status != result.OK && s.Status != result.Skipped {
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

// htmlGroups is the grouped view: connecting, then each step's outcomes,
// the largest first, each shown through its first host's masks.
func htmlGroups(res *result.Result, steps []stepOutcomes) ([]htmlGroup, []htmlStepGroup) {
	hostList := hostLister(res, 0)
	var connect []htmlGroup
	if unreached(res) {
		reached, errors, byError := connectOutcomes(res)
		if len(reached) > 0 {
			connect = append(connect, htmlGroup{OK: true, Status: result.OK, Icon: statusIcon(result.OK), Head: "reached", Hosts: hostList(reached), Count: len(reached)})
		}
		for _, e := range errors {
			connect = append(connect, htmlGroup{Odd: len(reached) > 0, Status: result.Error, Icon: statusIcon(result.Error), Head: "unreachable",
				Hosts: hostList(byError[e]), Count: len(byError[e]), Body: bodyHTML(htmlBody{Reason: text.Clean(e)})})
		}
	}
	var out []htmlStepGroup
	for _, so := range steps {
		name := so.name
		if so.cleanup {
			name = result.CleanupLabel(name)
		}
		sg := htmlStepGroup{Name: text.Line(name)}
		if so.command != so.name {
			sg.Command = text.Line(so.command)
		}
		for i, o := range so.outcomes {
			g := htmlGroup{Odd: i > 0, Status: o.status, Hosts: hostList(o.hosts), Count: len(o.hosts)}
			if o.step == nil {
				g.Head = "no such step"
			} else {
				g.OK, g.Icon = o.status == result.OK, statusIcon(o.status)
				g.Head = string(o.status)
				if o.status != result.Skipped {
					g.Head += " " + formatDuration(durationMS(o.minMS))
					if o.maxMS != o.minMS {
						g.Head += "–" + formatDuration(durationMS(o.maxMS))
					}
				}
				g.Body = bodyHTML(bodyOf(o.step, o.mask))
			}
			sg.Groups = append(sg.Groups, g)
		}
		out = append(out, sg)
	}
	return connect, out
}

// markup writes the page's most repeated fragments, the grid's cells and
// the bodies of cells and groups, in Go: through template actions, 2000
// hosts × 10 steps took a second. Every string in them passes through
// html/template's own escaper, template.HTMLEscapeString, which escapes
// quotes too, so it serves in quoted attributes as in text.
type markup struct{ b strings.Builder }

func (m *markup) raw(s string)  { m.b.WriteString(s) }
func (m *markup) text(s string) { m.b.WriteString(template.HTMLEscapeString(s)) }

func (m *markup) html() template.HTML { return template.HTML(m.b.String()) }

// cell is one host × step of the grid: status colour, duration as heat, and
// a summary that a click opens to all of the step's kept output.
func (m *markup) cell(s *result.StepResult, slowest int64) {
	if s == nil {
		m.raw(`<td class="none">–</td>`)
		return
	}
	body := bodyOf(s, nil)
	m.raw(`<td class="s-`)
	m.text(string(s.Status))
	m.raw(" h" + strconv.Itoa(heat(s.DurationMS, slowest)) + `"><details class="cell"><summary>`)
	m.text(statusIcon(s.Status))
	if s.Status == result.Skipped {
		m.raw(" skipped")
	} else {
		m.raw(" " + formatDuration(s.Duration()))
	}
	if body.Reason != "" && s.Status != result.Skipped { // why a step did not run is the same down a column: shown when opened
		m.raw(` <span class="why">`)
		m.text(body.Reason)
		m.raw(`</span>`)
	}
	m.raw(`</summary>`)
	m.body(body)
	m.raw(`</details></td>`)
}

// body is a cell's or group's content once opened: reason, expectations,
// each stream's head, cut and tail, exit status.
func (m *markup) body(b htmlBody) {
	m.raw(`<div class="body">`)
	if b.Reason != "" {
		m.raw(`<p class="reason">→ `)
		m.text(b.Reason)
		m.raw(`</p>`)
	}
	for _, e := range b.Expectations {
		if e.OK {
			m.raw(`<p class="met">✔ `)
		} else {
			m.raw(`<p class="unmet">✘ `)
		}
		m.text(e.Name)
		if e.Detail != "" {
			m.raw(": ")
			m.text(e.Detail)
		}
		m.raw(`</p>`)
	}
	for _, st := range b.Streams {
		m.raw(`<pre class="` + st.Name + `">`)
		m.text(st.Head)
		if st.Cut != "" {
			m.raw("\n<span class=\"cut\">")
			m.text(st.Cut)
			m.raw("</span>\n")
		}
		m.text(st.Tail)
		m.raw(`</pre>`)
	}
	if b.Exit != "" {
		m.raw(`<p class="exit">`)
		m.text(b.Exit)
		m.raw(`</p>`)
	}
	m.raw(`</div>`)
}

func bodyHTML(b htmlBody) template.HTML {
	var m markup
	m.body(b)
	return m.html()
}
