package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// matrixResult is a run of three hosts whose net.matrix step measured:
// a → b passes, b → a fails its ping, c never reached the step, and the
// throughput from b measured emulation.
func matrixResult() *result.Result {
	pass := func(test string, v float64, unit string) host.Measure {
		return host.Measure{Test: test, OK: true, Value: v, Unit: unit, Detail: "fine"}
	}
	row := func(to string, tests ...host.Measure) host.Pair {
		return host.Pair{To: to, Address: "250.0.0.1", Ran: true, Tests: tests}
	}
	step := func(pairs ...host.Pair) result.StepResult {
		return result.StepResult{Name: "fan", Kind: "net.matrix", Status: result.OK, Pairs: pairs}
	}
	lostPing := host.Measure{Test: host.TestPing, Unit: "ms", Detail: "0/3 replies, 100% loss"}
	emulated := pass(host.TestThroughput, 95.5, "Mbit/s")
	emulated.Emulated = true
	notRun := host.Pair{To: "c\x1b[31m", Error: "not run: c\x1b[31m did not reach this step"}
	failed := step(row("a", lostPing, emulated), notRun)
	failed.Status = result.Failed
	return &result.Result{Plan: "fan", Steps: []string{"fan"}, Hosts: []result.HostResult{
		{Name: "a", Status: result.OK, Steps: []result.StepResult{step(row("b", pass(host.TestPing, 0.31, "ms"), pass(host.TestThroughput, 912, "Mbit/s")), notRun)}},
		{Name: "b", Status: result.Failed, Steps: []result.StepResult{failed}},
		{Name: "c\x1b[31m", Status: result.Error, Error: "unreachable", Steps: []result.StepResult{{Name: "fan", Status: result.Skipped, Error: "host not reached"}}},
	}}
}

func TestMatricesInEveryReport(t *testing.T) {
	res := matrixResult()
	var side bytes.Buffer
	if err := Side(&side, res, SideOptions{Width: 100}); err != nil {
		t.Fatal(err)
	}
	out := side.String()
	for _, want := range []string{
		"✘ fan: b → a: ping FAIL: 0/3 replies, 100% loss",
		"fan · ping (ms) · rows from, columns to",
		"✔ 0.31", "✘ 0.00", "✔ 912", "✔ 95.5*", "measure the emulation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("side view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("a host's escape sequence reached the terminal:\n%q", out)
	}
	if failing, matrix := strings.Index(out, "✘ fan: b → a"), strings.Index(out, "fan · ping"); failing > matrix {
		t.Error("the failing pairs come after the matrices; want them first")
	}
	var md bytes.Buffer
	if err := Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| **a** | · | ✔ 0.31 | – |") {
		t.Errorf("markdown matrix row of a missing:\n%s", md.String())
	}
	var js bytes.Buffer
	if err := JSON(&js, res); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Matrices []result.Matrix }
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Matrices) != 2 || doc.Matrices[0].Test != host.TestPing || doc.Matrices[1].Test != host.TestThroughput {
		t.Fatalf("json matrices: %+v", doc.Matrices)
	}
	if c := doc.Matrices[1].Cells[1][0]; c == nil || !c.Ran || !c.Emulated || c.Value != 95.5 {
		t.Errorf("throughput b → a: %+v", c)
	}
	if c := doc.Matrices[0].Cells[2][0]; c == nil || c.Ran || c.Detail != "not run: host not reached" {
		t.Errorf("ping c → a, from a host never reached: %+v", c)
	}
}

func TestMatricesInThePage(t *testing.T) {
	var page bytes.Buffer
	if err := HTML(&page, matrixResult()); err != nil {
		t.Fatal(err)
	}
	out := page.String()
	for _, want := range []string{`<table class="matrix"><caption>fan · ping (ms) · rows from, columns to</caption>`, `<td class="s-failed" title="0/3 replies, 100% loss">✘ 0.00</td>`, `✔ 95.5*`} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("a host's escape sequence reached the page")
	}
}
