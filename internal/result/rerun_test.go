package result

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func hostOf(name string, status Status, steps ...Status) HostResult {
	h := HostResult{Name: name, Status: status}
	for i, s := range steps {
		h.Steps = append(h.Steps, StepResult{Name: []string{"a", "b", "c"}[i], Status: s})
	}
	return h
}

func TestFoldRerun(t *testing.T) {
	prev := &Result{Schema: Schema, RunID: "first", Plan: "p", Steps: []string{"a", "b", "c"}, Hosts: []HostResult{
		hostOf("ok", OK, OK, OK, OK),
		hostOf("down", Error),
		hostOf("broken", Failed, OK, Failed, Skipped),
	}}
	if got := prev.NotPassed(); !slices.Equal(got, []string{"down", "broken"}) {
		t.Errorf("NotPassed = %v", got)
	}
	if got := prev.Hosts[2].StepsNotPassed(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("StepsNotPassed = %v", got)
	}
	started := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	rerun := &Result{Schema: Schema, RunID: "second", Plan: "p", Steps: []string{"a", "b", "c"}, Started: started, Hosts: []HostResult{
		hostOf("down", OK, OK, OK, OK),
		hostOf("broken", OK, Skipped, Flaky, OK), // a was not selected: skipped, and keeps its earlier outcome
	}}
	folded, err := FoldRerun(prev, rerun, map[string][]string{"broken": {"b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if folded.RunID != "first" || len(folded.Reruns) != 1 || !slices.Equal(folded.Reruns[0].Hosts, []string{"down", "broken"}) {
		t.Errorf("folded: %s %+v", folded.RunID, folded.Reruns)
	}
	down, broken := folded.Hosts[1], folded.Hosts[2]
	if down.Status != OK || down.Rerun.Attempt != 2 || down.Rerun.Was != Error || down.Rerun.RunID != "second" {
		t.Errorf("down: %s %+v", down.Status, down.Rerun)
	}
	if broken.Status != Flaky || broken.Steps[0].Status != OK || !slices.Equal(broken.Rerun.Steps, []string{"b", "c"}) {
		t.Errorf("broken: %s %+v %+v", broken.Status, broken.Steps, broken.Rerun)
	}
	if folded.ExitCode() != ExitOK || prev.Hosts[1].Status != Error {
		t.Errorf("exit %d; the earlier result must be left as it was: %s", folded.ExitCode(), prev.Hosts[1].Status)
	}

	// Again: the attempt numbers go on.
	again := &Result{Plan: "p", Steps: prev.Steps, RunID: "third", Hosts: []HostResult{hostOf("down", OK, OK, OK, OK)}}
	folded, err = FoldRerun(folded, again, nil)
	if err != nil || folded.Hosts[1].Rerun.Attempt != 3 || folded.Hosts[1].Rerun.Was != OK || len(folded.Reruns) != 2 {
		t.Errorf("third run: %v %+v", err, folded.Hosts[1].Rerun)
	}

	for _, bad := range []struct {
		rerun *Result
		want  string
	}{
		{&Result{Plan: "q", Steps: prev.Steps}, `the re-run is plan "q"`},
		{&Result{Plan: "p", Steps: []string{"a"}}, "re-run the same plan"},
		{&Result{Plan: "p", Steps: prev.Steps, Hosts: []HostResult{{Name: "stranger"}}}, "host stranger was re-run but is not in the earlier result"},
	} {
		if _, err := FoldRerun(prev, bad.rerun, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("FoldRerun: %v, want %q", err, bad.want)
		}
	}
}

func TestFactsList(t *testing.T) {
	f := &Facts{Kernel: "6.12.9-amd64", Distro: "debian", DistroVersion: "13", Codename: "trixie", Machine: "s390x", Emulated: true, Emulator: "qemu-user",
		Packages: map[string]string{"runc": "1.1", "docker.io": "26.1"}, Engines: map[string]string{"docker": "26.1"}, Images: map[string]string{"x:y": "sha256:1"}}
	var got []string
	for _, fact := range f.List() {
		got = append(got, fact.Name+"="+fact.Value)
	}
	want := "kernel=6.12.9-amd64 distro=debian 13 (trixie) machine=s390x emulated=qemu-user docker.io=26.1 runc=1.1 engine docker=26.1 image x:y=sha256:1"
	if strings.Join(got, " ") != want {
		t.Errorf("List:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if (*Facts)(nil).List() != nil {
		t.Error("no facts list something")
	}
}
