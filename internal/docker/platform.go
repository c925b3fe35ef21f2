package docker

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"everywhere/internal/host"
)

// Platform is the OCI platform of an architecture (what image configs and
// engines call it).
func Platform(a host.Arch) ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: a.GOARCH()}
	if a == host.ArmHF {
		p.Variant = "v7"
	}
	return p
}

// parsePlatform reads os/arch[/variant].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
