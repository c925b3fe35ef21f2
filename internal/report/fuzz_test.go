package report

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"everywhere/internal/result"
)

// FuzzReadAndRender feeds hostile result documents (JSON, or an HTML page
// embedding one) to result.Read and every renderer in every layout: any
// input ends in a result or an error, never a panic or a hang.
func FuzzReadAndRender(f *testing.F) {
	for _, seed := range []string{"testdata/result.json.golden", "../../docs/examples/old.json", "../../docs/examples/new.json"} {
		data, err := os.ReadFile(filepath.FromSlash(seed))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<html>` + result.HTMLScriptOpen + `{"schema":"everywhere.result/1.0","hosts":[{"name":"\u202e","steps":[{"name":"x","status":"ok","stdout":"\x1b[2J"}]}]}</script>`))
	f.Add([]byte(`{"schema":"everywhere.result/1.0","steps":["a"],"hosts":[{"name":"a","steps":[]},{"name":"b","steps":[{"name":"a","status":"flaky","tries":[{}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := result.Read("fuzz.json", data)
		if err != nil {
			return
		}
		for _, format := range Formats {
			for _, layout := range []Layout{LayoutGroups, LayoutColumns, LayoutPanes} {
				if err := Render(io.Discard, format, res, SideOptions{Width: 100, Layout: layout}); err != nil {
					t.Logf("%s: %v", format, err)
				}
			}
		}
	})
}
