package result

// Exit codes of the everywhere command: their one home, beside the statuses
// they are computed from, so that renderers can print them too.
const (
	ExitOK          = 0 // every host and step ok
	ExitFailed      = 1 // a step failed, an expectation was unmet or a host unreachable
	ExitUsage       = 2 // bad flags, arguments, inventory or plan
	ExitInterrupted = 3 // Ctrl-C, SIGTERM, SIGHUP: cleanup still ran (unless cut short by a second one)
)

// ExitCode is what the everywhere command exits with for this result:
// interrupted before anything else, then any host not ok (a flaky one is
// ok unless StrictFlaky).
func (r *Result) ExitCode() int {
	if r.Interrupted {
		return ExitInterrupted
	}
	for _, h := range r.Hosts {
		if h.Status != OK && (h.Status != Flaky || r.StrictFlaky) {
			return ExitFailed
		}
	}
	return ExitOK
}
