package result

// Severity orders statuses from good to bad, for a host's status (its worst
// step's) and for what a live view shows first: ok and skipped 0 (a step
// skipped for a reason of its own is no failure), flaky 1, failed 2,
// timeout 3, error 4; anything else, the empty status too, 0.
func (s Status) Severity() int {
	switch s {
	case Flaky:
		return 1
	case Failed:
		return 2
	case Timeout:
		return 3
	case Error:
		return 4
	}
	return 0
}

// Worse is the more severe of a and b, a when they are as severe.
func Worse(a, b Status) Status {
	if b.Severity() > a.Severity() {
		return b
	}
	return a
}

// HostStatus is a host's status from its steps and cleanup steps: the
// worst of them, ok when every one is ok or was skipped.
func HostStatus(lists ...[]StepResult) Status {
	status := OK
	for _, list := range lists {
		for _, s := range list {
			status = Worse(status, s.Status)
		}
	}
	return status
}

// Passed says whether a step or host of status s succeeded, on its first
// try or a later one: what --rerun-failed leaves alone.
func Passed(s Status) bool { return s == OK || s == Flaky }
