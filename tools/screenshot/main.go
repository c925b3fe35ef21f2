// Command screenshot pictures the panes of a saved run for the README:
// everywhere's side-by-side report of it (a pane per host, in colour),
// turned into HTML by buildkite/terminal-to-html and photographed by
// headless chromium. make screenshot runs it:
//
//	go run ./tools/screenshot [-width 160] [-max-lines 8] [-scale 1] -o docs/panes.png RESULT.json|REPORT.html
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	terminal "github.com/buildkite/terminal-to-html/v3"
	"github.com/chromedp/chromedp"

	"everywhere/internal/report"
	"everywhere/internal/result"
)

func main() {
	out := flag.String("o", "docs/panes.png", "the PNG to write")
	width := flag.Int("width", 160, "columns of the report (three panes across need 150 or more)")
	maxLines := flag.Int("max-lines", report.DefaultMaxLines, "output lines shown per step")
	scale := flag.Float64("scale", 1, "device pixels per CSS pixel (2 for a sharper, larger picture)")
	timeout := flag.Duration("timeout", time.Minute, "for chromium to start and take the picture")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: screenshot [flags] RESULT.json|REPORT.html")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *width < 1 || *maxLines < 1 || *scale <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, flag.Arg(0), *out, *width, *maxLines, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "screenshot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, saved, out string, width, maxLines int, scale float64) error {
	res, err := result.ReadFile(saved)
	if err != nil {
		return err
	}
	doc, err := page(res, width, maxLines)
	if err != nil {
		return err
	}
	png, err := photograph(ctx, doc, scale)
	if err != nil {
		return err
	}
	return os.WriteFile(out, png, 0o644)
}

// page is an HTML page showing res as everywhere report --layout panes
// --color always shows it in a terminal.
func page(res *result.Result, width, maxLines int) ([]byte, error) {
	var ansi bytes.Buffer
	err := report.Side(&ansi, res, report.SideOptions{Width: width, Color: true, MaxLines: maxLines, Layout: report.LayoutPanes})
	if err != nil {
		return nil, fmt.Errorf("rendering the panes: %w", err)
	}
	screen, err := terminal.NewScreen()
	if err != nil {
		return nil, err
	}
	screen.Write(ansi.Bytes())
	var doc bytes.Buffer
	// terminal-to-html escapes the text; the report has already
	// neutralised what hosts printed.
	err = pageTemplate.Execute(&doc, struct {
		Width int
		Lines template.HTML
	}{width, template.HTML(screen.AsHTMLWithTimestamps(false))})
	return doc.Bytes(), err
}

// pageTemplate styles terminal-to-html's classes as a dark terminal does,
// in the one font Debian's chromium is sure to have (fonts-dejavu-core),
// and lets the page load nothing.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body { margin: 0; background: #1d1f21; }
#panes { display: inline-block; margin: 0; padding: 12px 16px; min-width: {{.Width}}ch; white-space: pre;
  font: 13px/1.25 "DejaVu Sans Mono", monospace; color: #d8d8d8; background: #1d1f21; }
.term-fg1 { font-weight: bold; } .term-fg2 { opacity: 0.6; } .term-fg3 { font-style: italic; }
.term-fg4 { text-decoration: underline; } .term-fg9 { text-decoration: line-through; }
.term-fg30 { color: #555; } .term-fg31 { color: #e06c6c; } .term-fg32 { color: #8cc265; } .term-fg33 { color: #d8b25a; }
.term-fg34 { color: #6ea6e0; } .term-fg35 { color: #c678dd; } .term-fg36 { color: #56b6c2; } .term-fg37 { color: #d8d8d8; }
.term-fgi90 { color: #808080; } .term-fgi91 { color: #ff7b7b; } .term-fgi92 { color: #a5e075; } .term-fgi93 { color: #f0d070; }
.term-fgi94 { color: #8cc4ff; } .term-fgi95 { color: #e08cf0; } .term-fgi96 { color: #70d6e0; } .term-fgi97 { color: #ffffff; }
.term-bg40 { background: #1d1f21; } .term-bg41 { background: #b84848; } .term-bg42 { background: #6a9a4a; } .term-bg43 { background: #b08a30; }
.term-bg44 { background: #3f72b0; } .term-bg45 { background: #9050a8; } .term-bg46 { background: #3a8a96; } .term-bg47 { background: #bbbbbb; }
.term-bgi100 { background: #555; } .term-bgi107 { background: #fff; }
.term-fg30.term-bg42, .term-fg30.term-bg43, .term-fg30.term-bg47 { color: #111; }
</style></head>
<body><pre id="panes">{{.Lines}}</pre></body></html>
`))

// photograph loads doc in a headless chromium of its own (a fresh
// profile, nothing in the background that could call out) and returns a
// PNG of the panes.
func photograph(ctx context.Context, doc []byte, scale float64) ([]byte, error) {
	path, err := chromium()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "everywhere-screenshot")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "panes.html")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(800, 600))
	defer cancel()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file)); err != nil {
		return nil, fmt.Errorf("chromium %s: %w", path, err)
	}
	png, err := chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS("#panes"), scale))
	if err != nil {
		return nil, fmt.Errorf("chromium %s: screenshot: %w", path, err)
	}
	return png, nil
}

// chromium finds Debian's chromium by the names the report's browser
// tests look for.
func chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no chromium on PATH (apt-get install chromium fonts-dejavu-core)")
}
