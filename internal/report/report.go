// Package report renders a result.Result: side by side for a terminal, as
// JSON, JUnit XML and Markdown for machines and pull requests, and as one
// self-contained HTML page for a browser. A renderer
// takes a Result and a writer, nothing else.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Formats lists the names Render accepts.
var Formats = []string{"side", "json", "junit", "md", "html"}

// Render writes res in the named format. Side-by-side output uses opts.
func Render(w io.Writer, format string, res *result.Result, opts SideOptions) error {
	switch format {
	case "side":
		return Side(w, res, opts)
	case "json":
		return JSON(w, res)
	case "junit":
		return JUnit(w, res)
	case "md":
		return Markdown(w, res)
	case "html":
		return HTML(w, res)
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
}

// FileName is the conventional file name of a format's output in -o DIR.
func FileName(format string) string {
	return map[string]string{"side": "report.txt", "json": "result.json", "junit": "junit.xml", "md": "report.md", "html": "report.html"}[format]
}

// JSON writes the result document (the format `everywhere report` reads back).
// It carries the groups of hosts by outcome (see Groups), so scripts need
// not compute them. Text is as the hosts sent it: JSON escapes what it must.
//
// The hosts are encoded one at a time, as the whole document would have
// them: encoding the document at once held it twice in memory (encoded,
// then indented), the peak of a 20,000-host run (212 MiB; 165 MiB now).
func JSON(w io.Writer, res *result.Result) error {
	doc := *res
	doc.Groups = Groups(res)
	doc.Matrices = res.NetMatrices()
	if len(res.Hosts) > 0 {
		doc.Hosts = []result.HostResult{} // a placeholder
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // <host> reads better than \u003chost\u003e
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	// A JSON string holds no raw newline: this is the key itself.
	if len(res.Hosts) == 0 {
		_, err := w.Write(buf.Bytes())
		return err
	}
	head, tail, ok := bytes.Cut(buf.Bytes(), []byte("\n  \"hosts\": []"))
	if !ok {
		return fmt.Errorf("json: the document has no hosts key")
	}
	bw := bufio.NewWriter(w)
	bw.Write(head)
	bw.WriteString("\n  \"hosts\": [")
	var host bytes.Buffer
	enc = json.NewEncoder(&host)
	enc.SetIndent("    ", "  ")
	enc.SetEscapeHTML(false)
	for i := range res.Hosts {
		host.Reset()
		if err := enc.Encode(&res.Hosts[i]); err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(host.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n  ]")
	bw.Write(tail)
	return bw.Flush()
}

func durationMS(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// formatDuration is short and steady in width: 0.81s, 12.3s, 2m05s.
func formatDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func statusIcon(s result.Status) string {
	return map[result.Status]string{result.OK: "✔", result.Flaky: "≈", result.Failed: "✘", result.Timeout: "⧖", result.Error: "!", result.Skipped: "-"}[s]
}

func summaryLine(res *result.Result) string {
	counts := res.Counts()
	var parts []string
	for _, s := range []result.Status{result.OK, result.Flaky, result.Failed, result.Timeout, result.Error, result.Skipped} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	line := fmt.Sprintf("%s: %s · exit %d", text.Count(len(res.Hosts), "host", "hosts"), strings.Join(parts, ", "), res.ExitCode())
	if n := res.RerunHosts(); n > 0 {
		line += fmt.Sprintf(" · %d re-run", n)
	}
	if res.Interrupted {
		line += " (interrupted)"
	}
	return line
}

// problem is one thing that went wrong, for the lists under the tables.
type problem struct {
	host, step, command, message string // step is empty for a host that was not reached
	status                       result.Status
}

// problems lists unreachable hosts and every step that ran and was not ok,
// host by host in report order.
func problems(res *result.Result) []problem {
	var list []problem
	for _, h := range res.Hosts {
		if h.Error != "" {
			list = append(list, problem{host: h.Name, message: h.Error, status: h.Status})
		}
		for _, s := range h.Steps {
			if s.Status != result.OK && s.Status != result.Skipped {
				list = append(list, problem{h.Name, s.Name, s.Command, s.Summary(), s.Status})
			}
		}
		for _, s := range h.Cleanup {
			if s.Status != result.OK && s.Status != result.Skipped {
				list = append(list, problem{h.Name, result.CleanupLabel(s.Name), s.Command, s.Summary(), s.Status})
			}
		}
	}
	return list
}
