package report

import (
	"fmt"
	"strings"

	"everywhere/internal/result"
	"everywhere/internal/text"
)

// rerunNote marks, under a host's name, that its outcome comes from a
// re-run (--rerun-failed); empty for a host of the result's own run.
func rerunNote(h result.HostResult) string {
	if h.Rerun == nil {
		return ""
	}
	return fmt.Sprintf("re-run (attempt %d, was %s)", h.Rerun.Attempt, h.Rerun.Was)
}

// factsNote is what a host is, in a few words under its name: distro and
// release, kernel, and emulated where it is (its facts; empty without).
func factsNote(h result.HostResult) string {
	f := h.Facts
	if f == nil {
		return ""
	}
	var parts []string
	if f.Distro != "" {
		parts = append(parts, strings.TrimSpace(f.Distro+" "+f.DistroVersion))
	}
	if f.Kernel != "" {
		parts = append(parts, f.Kernel)
	}
	if f.Emulated {
		parts = append(parts, "emulated")
	}
	return text.Line(strings.Join(parts, " · "))
}
