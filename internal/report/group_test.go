package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

// fleet is n hosts over the six architectures, each answering its own
// `uname -m`, but for the host at odd, which answers another's.
func fleet(n, odd int) *result.Result {
	archs := host.AllArchs()
	res := &result.Result{Schema: result.Schema, RunID: "20261201-120000-feedbeef", Plan: "arch check", Steps: []string{"machine", "hostname"}}
	for i := range n {
		a := archs[i%len(archs)]
		name := fmt.Sprintf("%s-%d", a, i/len(archs)+1)
		answer := a.Kernel()
		if i == odd {
			answer = host.AMD64.Kernel()
		}
		status := result.OK
		if i == odd {
			status = result.Failed
		}
		var expect []result.Outcome
		if i == odd {
			expect = []result.Outcome{{Name: "arch_matches_host " + string(a), Detail: fmt.Sprintf("host reports %s (amd64), inventory declares %s", answer, a)}}
		}
		res.Hosts = append(res.Hosts, result.HostResult{Name: name, Arch: string(a), Address: fmt.Sprintf("10.0.%d.%d:22", i/200, i%200+1), Status: status,
			Steps: []result.StepResult{
				{Name: "machine", Command: "uname -m", Status: status, ExitCode: code(0), Stdout: answer + "\n", DurationMS: 100 + int64(i), Expectations: expect},
				{Name: "hostname", Command: "hostname", Status: result.OK, ExitCode: code(0), Stdout: name + "\n", DurationMS: 50},
			}})
	}
	return res
}

func TestGroupsMaskEachHostsIdentity(t *testing.T) {
	groups := Groups(fleet(6, -1))
	for _, sg := range groups {
		if len(sg.Groups) != 1 || len(sg.Groups[0].Hosts) != 6 {
			t.Errorf("step %s: six hosts each answering their own should be one group: %+v", sg.Step, sg.Groups)
		}
	}
	groups = Groups(fleet(30, 8)) // i686-2 answers x86_64
	machine := groups[0]
	if len(machine.Groups) != 2 || len(machine.Groups[0].Hosts) != 29 || machine.Groups[0].Odd ||
		strings.Join(machine.Groups[1].Hosts, ",") != "i686-2" || !machine.Groups[1].Odd || machine.Groups[1].Status != result.Failed {
		t.Errorf("machine groups: %+v", machine.Groups)
	}
}

// Thirty hosts do not fit side by side: the view groups by default, the
// largest group first and the odd one out marked; --group=false keeps
// columns.
func TestSideGroupsABigFleet(t *testing.T) {
	res := fleet(30, 8)
	out := side(t, res, SideOptions{Width: 120})
	checkGrid(t, "grouped", out, 120)
	want := []string{
		"machine\n  $ uname -m\n  ✔ ok 0.10s–0.13s · amd64-[1-5], arm64-[1-5], armhf-[1-5], i686-[1,3-5], ppc64el-[1-5], s390x-[1-5] (29)\n      <arch>: armv7l (armhf-[1-5]) · aarch64 (arm64-[1-5]) ·",
		"  ≠ ✘ failed 0.11s · i686-2 (1)\n      → expected arch_matches_host i686: host reports x86_64 (amd64), inventory declares i686\n      x86_64\n",
		"hostname\n  ✔ ok 0.05s · amd64-[1-5], arm64-[1-5], armhf-[1-5], i686-[1-5], ppc64el-[1-5], s390x-[1-5] (30)\n      <host>: each host's own name\n",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("grouped view lacks\n%s\ngot:\n%s", w, out)
		}
	}
	golden(t, "side-grouped.golden", []byte(out))
	columns := side(t, res, SideOptions{Width: 120, Layout: LayoutColumns})
	checkGrid(t, "columns", columns, 120)
	if strings.Contains(columns, "(29)") || strings.Count(columns, "┼") < 30 {
		t.Errorf("--group=false does not keep columns:\n%s", columns)
	}
	if few := side(t, fleet(3, -1), SideOptions{Width: 120}); strings.Contains(few, "(3)") {
		t.Errorf("three hosts fit side by side, yet grouped:\n%s", few)
	}
}

func TestJSONCarriesGroups(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, fleet(12, 3)); err != nil {
		t.Fatal(err)
	}
	var doc result.Result
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Groups) != 2 || doc.Groups[0].Step != "machine" || len(doc.Groups[0].Groups) != 2 || doc.Groups[0].Groups[1].Hosts[0] != "amd64-1" {
		t.Errorf("groups: %+v", doc.Groups)
	}
}

// TestJSONStreamsTheWholeDocument: hosts encoded one at a time make the
// bytes that encoding the whole document gives, with text that looks like
// the document's own keys, markup and newlines in it, and with no hosts.
func TestJSONStreamsTheWholeDocument(t *testing.T) {
	odd := fleet(7, 2)
	odd.Plan = "plan\n  \"hosts\": [] <b>"
	odd.Hosts[1].Steps[0].Stdout = "\n  \"hosts\": []\n<script>&\u2028é\n"
	odd.Hosts[3].Error = `"hosts": [],`
	for name, res := range map[string]*result.Result{"fleet": odd, "one host": fleet(1, -1), "no hosts": {RunID: "r", Steps: []string{"a"}}, "empty hosts": {RunID: "r", Hosts: []result.HostResult{}}} {
		var got bytes.Buffer
		if err := JSON(&got, res); err != nil {
			t.Fatal(err)
		}
		doc := *res
		doc.Groups = Groups(res)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&doc); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: streamed\n%s\nwhole\n%s", name, got.String(), want.String())
		}
	}
}

// TestHostNamedAfterItsArch: a host named after its architecture (the lab's
// s390x) answering `uname -m` or `uname -a` with its own names groups with
// the others.
func TestHostNamedAfterItsArch(t *testing.T) {
	res := &result.Result{RunID: "r", Steps: []string{"machine", "kernel"}}
	for _, a := range []host.Arch{host.Arm64, host.S390X, host.AMD64} {
		name := string(a) // named after the arch, as in the lab
		res.Hosts = append(res.Hosts, result.HostResult{Name: name, Arch: string(a), Status: result.OK, Steps: []result.StepResult{
			{Name: "machine", Status: result.OK, Stdout: a.Kernel() + "\n"},
			{Name: "kernel", Status: result.OK, Stdout: "Linux " + name + " 6.1.0 #1 SMP " + a.Kernel() + " GNU/Linux\n"},
		}})
	}
	for _, sg := range Groups(res) {
		if len(sg.Groups) != 1 {
			t.Errorf("step %s: %+v, want one group", sg.Step, sg.Groups)
		}
	}
}
