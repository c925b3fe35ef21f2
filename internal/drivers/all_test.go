package drivers_test

import (
	"slices"
	"strings"
	"testing"

	"everywhere/internal/drivers"
	"everywhere/internal/plan"
)

// TestAll: the list makes a registry (no two drivers share a name, kind or
// block), in the order of hosts' columns, with every engine's kinds and
// file.push, which a plan finds there and nowhere else.
func TestAll(t *testing.T) {
	r := drivers.All()
	var names []string
	for _, d := range r.Drivers() {
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "shell file net docker podman lxd incus" {
		t.Errorf("drivers %v", names)
	}
	for _, kind := range []string{"shell", "file.push", "net.matrix", "docker.run", "podman.run", "podman.rm", "lxd.launch", "incus.launch", "incus.docker_run"} {
		if !slices.Contains(r.Kinds(), kind) {
			t.Errorf("no kind %s in %v", kind, r.Kinds())
		}
	}
	for _, src := range []string{
		"steps:\n  - {file.push: {src: a, dest: /tmp/}}\n",
		"steps:\n  - {net.matrix: {engine: podman}}\n",
		"steps:\n  - {incus.launch: {image: 'images:debian/12'}}\ncleanup:\n  - {incus.delete: {}}\n",
	} {
		if _, err := plan.Parse("p.yaml", []byte(src), r); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	if drivers.All().Drivers()[3] == r.Drivers()[3] {
		t.Error("two registries share a driver value")
	}
}
