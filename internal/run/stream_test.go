package run

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"everywhere/internal/inventory"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

func streamHost(t *testing.T, handler sshtest.Handler) []inventory.Host {
	s := sshtest.NewServer(t, handler)
	return []inventory.Host{{Name: "h", Arch: "amd64", Address: s.Host, Port: s.Port, User: "u",
		Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second}}
}

// A command's first line reaches the viewer while the command still runs:
// the command waits for the test to have seen it.
func TestOutputArrivesWhileRunning(t *testing.T) {
	seen := make(chan struct{})
	hosts := streamHost(t, func(_ string, stdout, _ io.Writer, stop <-chan struct{}) int {
		fmt.Fprintln(stdout, "first")
		select {
		case <-seen:
		case <-stop:
		case <-time.After(20 * time.Second):
		}
		fmt.Fprintln(stdout, "last")
		return 0
	})
	events := make(chan result.Event, 16)
	r := runner()
	r.Events = events
	done := make(chan *result.Result)
	go func() { done <- r.Run(context.Background(), hosts, mustPlan(t, "steps: [{name: s, shell: talk}]")) }()
	var got strings.Builder
	early := false
	for e := range events {
		switch e.Type {
		case result.Output:
			if e.Host != "h" || e.Step != "s" {
				t.Errorf("output event %+v", e)
			}
			got.WriteString(e.Data)
			if !early && strings.Contains(got.String(), "first\n") {
				early = true
				close(seen)
			}
		case result.StepDone:
			if !early {
				t.Fatal("the step ended before its first line was streamed")
			}
			if got.String() != "first\nlast\n" {
				t.Errorf("streamed %q before StepDone, want all of it", got.String())
			}
		}
		if e.Type == result.HostDone {
			break
		}
	}
	res := <-done
	if res.Hosts[0].Steps[0].Stdout != "first\nlast\n" {
		t.Errorf("result keeps %q", res.Hosts[0].Steps[0].Stdout)
	}
}

// A viewer that takes an event a second does not slow the command: what it
// misses is dropped and counted, and the result keeps everything.
func TestSlowViewerNeverSlowsTheHost(t *testing.T) {
	const lines = 400
	line := strings.Repeat("x", 200) + "\n"
	hosts := streamHost(t, func(_ string, stdout, stderr io.Writer, _ <-chan struct{}) int {
		for i := range lines {
			fmt.Fprint(stdout, line)
			if i%50 == 0 {
				fmt.Fprintln(stderr, "tick")
			}
			time.Sleep(time.Millisecond)
		}
		return 0
	})
	events := make(chan result.Event) // unbuffered: every send waits for the viewer
	r := runner()
	r.OutputLimit = 1 << 20
	r.Events = events
	done := make(chan *result.Result, 1)
	go func() {
		done <- r.Run(context.Background(), hosts, mustPlan(t, "steps: [{name: s, shell: flood}]"))
	}()
	var streamed, dropped int64
	for e := range events {
		if e.Type == result.Output {
			streamed += int64(len(e.Data))
			dropped += e.Dropped
			time.Sleep(time.Second)
		}
		if e.Type == result.HostDone {
			break
		}
	}
	res := <-done
	s := res.Hosts[0].Steps[0]
	written := int64(lines*len(line) + 8*len("tick\n"))
	if s.StdoutBytes+s.StderrBytes != written || len(s.Stdout) != lines*len(line) {
		t.Errorf("result kept %d+%d bytes of %d", s.StdoutBytes, s.StderrBytes, written)
	}
	// Without the viewer the command takes about lines ms; a viewer the
	// host waited for would have added a second per event.
	if s.DurationMS > 3000 {
		t.Errorf("the step took %dms: the slow viewer held it up", s.DurationMS)
	}
	if dropped == 0 || streamed+dropped != written {
		t.Errorf("streamed %d + dropped %d bytes, written %d", streamed, dropped, written)
	}
	if streamed > 2*outputPending {
		t.Errorf("streamed %d bytes to a viewer that took one event: want at most what is held for it", streamed)
	}
}
