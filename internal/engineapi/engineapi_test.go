package engineapi

import (
	"testing"

	"github.com/docker/docker/api/types"
)

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		less bool
	}{{"1.40", "1.41", true}, {"1.41", "1.41", false}, {"1.9", "1.41", true}, {"1.44", "1.41", false}, {"2.0", "1.41", false}} {
		if got := VersionLess(tt.a, tt.b); got != tt.less {
			t.Errorf("VersionLess(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

// TestProduct: Docker and Podman are told apart by the components their
// /version lists (as Docker 20.10 and Podman 4.3 answer).
func TestProduct(t *testing.T) {
	for _, tt := range []struct {
		version    string
		components []types.ComponentVersion
		want       string
	}{
		{"20.10.24", []types.ComponentVersion{{Name: "Engine"}, {Name: "containerd"}}, "Docker 20.10.24"},
		{"4.3.1", []types.ComponentVersion{{Name: "Podman Engine"}, {Name: "Conmon"}}, "Podman 4.3.1"},
		{"4.3.1", nil, "engine 4.3.1"},
	} {
		e := &Engine{Version: types.Version{Version: tt.version, Components: tt.components}}
		if got := e.Product(); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.components, got, tt.want)
		}
	}
}
