package result

import (
	"strings"
	"testing"
	"time"

	"everywhere/internal/shard"
)

// shardResult is shard index/count of plan "smoke" (steps a, b) that
// reached hosts, each ok unless named in failed.
func shardResult(index, count int, started time.Time, durationMS int64, hosts ...string) *Result {
	r := &Result{Schema: Schema, RunID: "run-" + string(rune('0'+index)), Plan: "smoke", Started: started, DurationMS: durationMS,
		Steps: []string{"a", "b"}, Cleanup: []string{"c"}, Shard: &shard.Shard{Index: index, Count: count}}
	for _, h := range hosts {
		status := OK
		if strings.HasPrefix(h, "bad") {
			status = Failed
		}
		r.Hosts = append(r.Hosts, HostResult{Name: h, Status: status, Steps: []StepResult{
			{Name: "a", Kind: "shell", Command: "uname -a", Status: OK},
			{Name: "b", Kind: "shell", Command: "uname -m", Status: status},
		}})
	}
	return r
}

func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	parts := []Part{ // in no particular order, one shard empty
		{"s2.json", shardResult(2, 4, t0.Add(time.Second), 500, "delta", "alpha")},
		{"s0.json", shardResult(0, 4, t0, 1000, "charlie")},
		{"s3.json", shardResult(3, 4, t0.Add(2*time.Second), 3000)},
		{"s1.json", shardResult(1, 4, t0.Add(time.Second), 200, "bad-echo", "bravo")},
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range merged.Hosts {
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "alpha bad-echo bravo charlie delta" {
		t.Errorf("hosts %s, want them all, by name", got)
	}
	if merged.Shard != nil || merged.Plan != "smoke" || strings.Join(merged.Steps, ",") != "a,b" || strings.Join(merged.Cleanup, ",") != "c" {
		t.Errorf("merged %+v", merged)
	}
	if !merged.Started.Equal(t0) || merged.DurationMS != 5000 {
		t.Errorf("started %v for %d ms, want %v for 5000 ms (the first start to the last end)", merged.Started, merged.DurationMS, t0)
	}
	if merged.RunID != "run-0,run-1,run-2,run-3" {
		t.Errorf("run id %q", merged.RunID)
	}
	if merged.ExitCode() != ExitFailed {
		t.Errorf("exit code %d, want %d: bad-echo failed", merged.ExitCode(), ExitFailed)
	}
	if parts[0].File != "s2.json" {
		t.Errorf("Merge reordered its argument")
	}
	parts[0].Result.Interrupted = true
	if merged, _ := Merge(parts); merged.ExitCode() != ExitInterrupted {
		t.Errorf("a shard interrupted: exit code %d, want %d", merged.ExitCode(), ExitInterrupted)
	}
}

func TestMergeRefuses(t *testing.T) {
	t0 := time.Now()
	s := func(index, count int, hosts ...string) *Result { return shardResult(index, count, t0, 1, hosts...) }
	otherPlan := s(1, 2, "b")
	otherPlan.Plan = "other"
	otherSteps := s(1, 2, "b")
	otherSteps.Steps = []string{"a", "x"}
	otherCleanup := s(1, 2, "b")
	otherCleanup.Cleanup = nil
	otherCommand := s(1, 2, "b")
	otherCommand.Hosts[0].Steps[1].Command = "uname -r"
	whole := s(1, 2, "b")
	whole.Shard = nil
	for _, tc := range []struct {
		name  string
		parts []Part
		err   string
	}{
		{"nothing", nil, "no results to merge"},
		{"not a shard", []Part{{"a.json", s(0, 2, "a")}, {"b.json", whole}}, "b.json is not a shard's result"},
		{"missing", []Part{{"a.json", s(0, 3, "a")}, {"c.json", s(2, 3, "c")}}, "shard 1/3 missing: merge one result of each of the 3 shards"},
		{"duplicate", []Part{{"a.json", s(0, 2, "a")}, {"b.json", s(1, 2, "b")}, {"b2.json", s(1, 2, "c")}}, "b.json and b2.json are both shard 1/2"},
		{"counts", []Part{{"a.json", s(0, 2, "a")}, {"b.json", s(1, 3, "b")}}, "a.json is shard 0/2, b.json shard 1/3: shards of one split only"},
		{"out of range", []Part{{"a.json", s(0, 2, "a")}, {"b.json", s(2, 2, "b")}}, "b.json: shard 2/2 is not one of 2"},
		{"overlap", []Part{{"a.json", s(0, 2, "a", "b")}, {"b.json", s(1, 2, "b")}}, "host b is in a.json and in b.json: shards overlap"},
		{"plan", []Part{{"a.json", s(0, 2, "a")}, {"b.json", otherPlan}}, `b.json is plan "other", a.json plan "smoke"`},
		{"steps", []Part{{"a.json", s(0, 2, "a")}, {"b.json", otherSteps}}, "a.json has steps [a, b; cleanup c], b.json steps [a, x; cleanup c]"},
		{"cleanup", []Part{{"a.json", s(0, 2, "a")}, {"b.json", otherCleanup}}, "b.json steps [a, b]: shards of one plan only"},
		{"command", []Part{{"a.json", s(0, 2, "a")}, {"b.json", otherCommand}}, `step "b" is shell "uname -m" in a.json, shell "uname -r" in b.json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.parts)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Merge: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestMergeRefusesAbsurdShardCount: a shard count read from a file is
// bounded before it sizes anything (a negative one panicked, a huge one
// allocated without limit).
func TestMergeRefusesAbsurdShardCount(t *testing.T) {
	for _, count := range []int{-1, 0, 1 << 40} {
		parts := []Part{{File: "a.json", Result: &Result{Schema: Schema, Plan: "p", Shard: &shard.Shard{Index: 0, Count: count}}}}
		if _, err := Merge(parts); err == nil || !strings.Contains(err.Error(), "is not in 1-") {
			t.Errorf("count %d: %v", count, err)
		}
	}
}
