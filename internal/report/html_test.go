package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"everywhere/internal/result"
)

func TestHTMLGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "html", fixture(), SideOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html.golden", buf.Bytes())
}

// The page is the whole record: result.ReadFile reads it back as it
// reads result.json.
func TestHTMLReadsBack(t *testing.T) {
	res := fixture()
	res.Hosts[0].Steps[0].Stdout = "</script><script>alert(1)</script>\u2028 & <!--\n"
	var page bytes.Buffer
	if err := HTML(&page, res); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), "</script>"); n != 3 {
		t.Errorf("%d </script> in the page, want 3 (the result's, the view's and the script's)", n)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := result.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res) {
		t.Errorf("read back differs:\n%+v\nwant\n%+v", back, res)
	}
}

// The page's policy runs its own script only, loads nothing, and lets no
// <base> or form redirect what little it links to.
func TestHTMLPolicy(t *testing.T) {
	var page bytes.Buffer
	if err := HTML(&page, fixture()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default-src &#39;none&#39;", "script-src &#39;sha256-", "base-uri &#39;none&#39;", "form-action &#39;none&#39;"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the policy lacks %q", want)
		}
	}
}

// BenchmarkHTMLFleet renders 2000 hosts × 10 steps as one page: well under
// a second is the aim.
func BenchmarkHTMLFleet(b *testing.B) {
	res := bigFleet(2000)
	for b.Loop() {
		if err := HTML(io.Discard, res); err != nil {
			b.Fatal(err)
		}
	}
}
