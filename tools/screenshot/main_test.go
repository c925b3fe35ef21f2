package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"everywhere/internal/result"
)

// saved is a recorded run of the lab's default plan, six hosts, all ok,
// with one step's output replaced by what a hostile host might print.
func saved(t *testing.T) *result.Result {
	t.Helper()
	res, err := result.ReadFile("../../docs/examples/old.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range res.Hosts[0].Steps {
		if step.Name == "kernel" {
			res.Hosts[0].Steps[i].Stdout = "<img src=x onerror=alert(1)>\x1b]0;title\x07\x1b[2J</pre>"
			return res
		}
	}
	t.Fatal("armhf ran no step kernel")
	return nil
}

func TestPage(t *testing.T) {
	doc, err := page(saved(t), 160, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<pre id="panes">`, "min-width: 160ch",
		`<span class="term-fg30 term-bg42 term-fg1"> armhf (armhf)`, // an ok host's title bar
		"&lt;img src=x onerror=alert(1)&gt;", "6 hosts: 6 ok · exit 0",
	} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("the page lacks %q:\n%s", want, doc)
		}
	}
	for _, unwanted := range []string{"<img", "\x1b", "\x07", "</pre>\n<"} {
		if bytes.Contains(doc, []byte(unwanted)) {
			t.Errorf("the page holds %q", unwanted)
		}
	}
}

// The picture is the whole of the panes: as wide as 160 columns, as tall
// as the report's lines, with the green of the ok hosts' title bars.
func TestPhotograph(t *testing.T) {
	if _, err := chromium(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	doc, err := page(saved(t), 160, 8)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shot, err := photograph(ctx, doc, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(doc), "\n") // a few more than the report's
	size := img.Bounds().Size()
	if size.X < 160*7 || size.X > 160*9 || size.Y < 100*15 || size.Y > lines*18 {
		t.Errorf("the picture is %v, want 160 columns of 7-9 px and 100-%d lines of 15-18 px", size, lines)
	}
	if n := count(img, color.RGBA{0x6a, 0x9a, 0x4a, 0xff}); n < 6*100 {
		t.Errorf("%d pixels of the ok title bars' green, want six bars' worth", n)
	}
}

func count(img image.Image, c color.RGBA) int {
	n := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == c {
				n++
			}
		}
	}
	return n
}
