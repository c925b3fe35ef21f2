package result

// Severity orders statuses from good to bad, for a host's status (its worst
// step's) and for what a live view shows first: ok and skipped 0, failed 1,
// timeout 2, error 3; anything else, the empty status too, 0.
func (s Status) Severity() int {
	switch s {
	case Failed:
		return 1
	case Timeout:
		return 2
	case Error:
		return 3
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
