package lxd

import (
	"regexp"
	"strings"
	"testing"
)

// TestInstanceNamesDoNotCollide: host names that clean to the same LXD name
// (web.1, web_1) and long names that share a prefix get distinct, valid names.
func TestInstanceNamesDoNotCollide(t *testing.T) {
	const run = "20261125-114602-53f06686"
	valid := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$`)
	seen := map[string]string{}
	long := strings.Repeat("x", 100)
	for _, h := range []string{"lab_host.1", "web.1", "web_1", "web-1", long + "a", long + "b", "-", "_x_", "amd64"} {
		name := instanceName(run, h)
		if !valid.MatchString(name) || strings.Contains(name, "--") {
			t.Errorf("host %q: %q is not a valid LXD name", h, name)
		}
		if !strings.HasPrefix(name, "everywhere-"+run+"-") {
			t.Errorf("host %q: %q does not start with the run", h, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("hosts %q and %q both map to %q", other, h, name)
		}
		seen[name] = h
	}
	if got := instanceName(run, "lab_host.1"); !strings.HasPrefix(got, "everywhere-"+run+"-lab-host-1-") {
		t.Errorf("got %q: the host's name should stay readable", got)
	}
	if got := instanceName(run, "amd64"); got != "everywhere-"+run+"-amd64" {
		t.Errorf("got %q: a name LXD takes as it is stays as it is", got)
	}
}

// TestLocalAlias: a remote's image name is looked up under one alias on
// LXD and Incus alike.
func TestLocalAlias(t *testing.T) {
	for image, want := range map[string][2]string{
		"debian/bookworm/amd64": {"debian/bookworm/amd64", ""},
		"images:debian/12":      {"debian/12", "images"},
		"ubuntu:24.04":          {"ubuntu/24.04", "ubuntu"},
		"images:ubuntu/24.04":   {"ubuntu/24.04", "images"},
		"everywhere/busybox:t":  {"everywhere/busybox:t", ""},
	} {
		if alias, remote := LocalAlias(image); alias != want[0] || remote != want[1] {
			t.Errorf("%s: %q from %q, want %q from %q", image, alias, remote, want[0], want[1])
		}
	}
}
