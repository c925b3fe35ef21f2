package plan_test

import (
	"strings"
	"testing"

	_ "everywhere/internal/docker" // the built-in plan uses the docker.* and lxd.* kinds
	_ "everywhere/internal/lxd"
	"everywhere/internal/plan"
)

func TestDefaultPlan(t *testing.T) {
	p, err := plan.Default()
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
	if plan.DefaultSource() == "" {
		t.Error("no source to show")
	}
}
