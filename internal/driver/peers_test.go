package driver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGatherWaitsForEveryHostThatMayCome(t *testing.T) {
	m := NewMeeting([]string{"a", "b", "c"}, 10)
	var wg sync.WaitGroup
	got := make([]map[string][]byte, 2)
	for i, name := range []string{"a", "b"} {
		wg.Go(func() {
			v, err := m.Gather(t.Context(), name, "up", []byte(name))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	time.Sleep(50 * time.Millisecond)
	if got[0] != nil || got[1] != nil {
		t.Fatal("gathered before c came or left")
	}
	m.Leave("c") // c's steps are over: it will not come
	wg.Wait()
	for _, v := range got {
		if len(v) != 2 || string(v["a"]) != "a" || string(v["b"]) != "b" {
			t.Errorf("gathered %q, want a and b", v)
		}
	}
	// A later gathering does not wait for c either.
	done := make(chan struct{})
	go func() { _, _ = m.Gather(t.Context(), "a", "done", nil); close(done) }()
	if _, err := m.Gather(t.Context(), "b", "done", nil); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestGatherHonoursCancellation(t *testing.T) {
	m := NewMeeting([]string{"a", "b"}, 10)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Gather(ctx, "a", "up", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
}

func TestGatherRefusesWhenNotEveryHostCanRunAtOnce(t *testing.T) {
	m := NewMeeting([]string{"a", "b", "c"}, 2)
	if _, err := m.Gather(t.Context(), "a", "up", nil); err == nil {
		t.Error("gathering 3 hosts with --parallel 2 would wait forever; want an error")
	}
}

func TestLockTakesTurns(t *testing.T) {
	m := NewMeeting([]string{"a", "b"}, 10)
	unlock, err := m.For("a").Lock(t.Context(), "throughput")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.For("b").Lock(ctx, "throughput"); err == nil {
		t.Fatal("two holders of one lock")
	}
	unlock()
	unlock2, err := m.For("b").Lock(t.Context(), "throughput")
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}
