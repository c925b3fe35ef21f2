package report

import (
	"fmt"

	"everywhere/internal/result"
)

// rerunNote marks, under a host's name, that its outcome comes from a
// re-run (--rerun-failed); empty for a host of the result's own run.
func rerunNote(h result.HostResult) string {
	if h.Rerun == nil {
		return ""
	}
	return fmt.Sprintf("re-run (attempt %d, was %s)", h.Rerun.Attempt, h.Rerun.Was)
}
