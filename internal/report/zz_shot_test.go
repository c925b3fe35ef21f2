package report

import (
	"os"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

func TestZZShot(t *testing.T) {
	b, _ := open(t, flakyFixture(), "#layout=columns&cell=arm64-trixie/apt")
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"columns", "groups", "panes"} {
			click(t, b, "[data-layout="+l+"]")
			png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile("/tmp/flakyhtml-"+scheme+"-"+l+".png", png, 0o644)
		}
	}
}
