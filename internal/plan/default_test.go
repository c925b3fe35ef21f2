package plan_test

import (
	"strings"
	"testing"

	"everywhere/internal/drivers"
	"everywhere/internal/plan"
)

func TestDefaultPlan(t *testing.T) {
	p, err := plan.Default(drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "lxd-launch lxd-running lxd-uname kernel machine dpkg-arch eth0 docker-version docker-images docker-run" {
		t.Errorf("default plan steps: %s", got)
	}
	if src, ok := plan.BuiltinSource(plan.DefaultName); !ok || src == "" {
		t.Error("no source to show")
	}
}

// TestEveryBuiltinPlanParses: each built-in plan parses and says what it does.
func TestEveryBuiltinPlanParses(t *testing.T) {
	for _, name := range plan.Builtins() {
		if _, err := plan.Open(name, drivers.All()); err != nil {
			t.Errorf("built-in plan %s: %v", name, err)
		}
		if plan.BuiltinSummary(name) == "" {
			t.Errorf("built-in plan %s has no summary comment on its first line", name)
		}
	}
	if _, err := plan.Open("nosuchplan", drivers.All()); err == nil || !strings.Contains(err.Error(), "no built-in plan of that name (built in: default") {
		t.Errorf("unknown plan name: %v", err)
	}
}

// TestReleasePlanHasTheSeeds: the release plan is the seed's steps (the
// same names, kinds and commands) and more.
func TestReleasePlanHasTheSeeds(t *testing.T) {
	seed, err := plan.Open("seed", drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	release, err := plan.Open("release", drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, s := range append(release.Steps, release.Cleanup...) {
		has[s.Name+" "+s.Kind+" "+s.Action.Command()] = true
	}
	for _, s := range append(seed.Steps, seed.Cleanup...) {
		if !has[s.Name+" "+s.Kind+" "+s.Action.Command()] {
			t.Errorf("the release plan lacks the seed's step %s (%s %s)", s.Name, s.Kind, s.Action.Command())
		}
	}
	if release.TimeoutScale.Emulated == 0 {
		t.Error("the release plan does not scale its limits on emulated hosts")
	}
}

// A step that meets the other hosts (net.matrix) is not retried alone:
// they would wait for it a second time.
func TestSpanningStepsAreNotRetried(t *testing.T) {
	_, err := plan.Parse("plan.yaml", []byte("steps:\n  - {net.matrix: {engine: docker, tests: [ping]}, retries: 1}\n"), drivers.All())
	if err == nil || !strings.Contains(err.Error(), "plan.yaml:2: steps[0]: net.matrix meets the run's other hosts once: it cannot be retried alone") {
		t.Errorf("err = %v", err)
	}
}
