package report

import (
	"bytes"
	"encoding/json"
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

// embeddedView is the page's view document, as its script reads it.
func embeddedView(t *testing.T, res *result.Result) pageData {
	t.Helper()
	var page bytes.Buffer
	if err := HTML(&page, res); err != nil {
		t.Fatal(err)
	}
	_, doc, _ := strings.Cut(page.String(), `<script type="application/json" id="everywhere-view">`)
	doc, _, _ = strings.Cut(doc, "</script>")
	var v pageData
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("the embedded view: %v", err)
	}
	return v
}

// The view gives each cell its status and whether its host differs (upper
// case), and carries a cell's text only where the result's will not do.
func TestHTMLView(t *testing.T) {
	v := embeddedView(t, fixture())
	// kernel, machine, eth0, cleanup: tidy; pi4's kernel has a warning on
	// stderr, atom answers x86_64, build was not reached, power9 hangs.
	want := []string{"Oooo", "oooo", "oFoo", "SSS-", "ooTo", "ooOo"}
	if !reflect.DeepEqual(v.Cells, want) {
		t.Errorf("cells %q, want %q", v.Cells, want)
	}
	if v.Extra["1.0"] != nil {
		t.Errorf("rpi5's plain kernel cell has extra %+v, want none", v.Extra["1.0"])
	}
	pi := v.Extra["0.0"]
	if pi == nil || len(pi.Streams) != 1 || pi.Streams[0].Name != "stderr" || pi.Streams[0].Head != "warning: ␛[31mred␛[0m\n" || pi.Streams[0].Cut == "" {
		t.Errorf("pi4's kernel cell: extra %+v, want its stderr cleaned and cut", pi)
	}
	if atom := v.Extra["2.1"]; atom == nil || !strings.HasPrefix(atom.Reason, "expected arch_matches_host i686") || len(atom.Expect) != 1 {
		t.Errorf("atom's machine cell: extra %+v, want its reason and expectation", atom)
	}
	if got := v.Groups[1][1]; !got.Odd || got.Hosts != "atom (1)" || got.Status != "f" {
		t.Errorf("machine's second group %+v, want atom alone, odd, failed", got)
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
