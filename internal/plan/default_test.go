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
