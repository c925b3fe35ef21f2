package plan

import "strings"

// WithNeeds is names and every step they need, in the plan's order: what
// --rerun-failed --steps failed runs again. A step needs the steps its
// needs: lists, the earlier steps of its driver (an lxd.exec needs the
// lxd.launch before it; a shell step needs no other shell step) and the
// earlier critical steps, which the steps after them rely on; and
// whatever those need in turn.
func (p *Plan) WithNeeds(names []string) []string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	// Backwards: a step's needs come before it, so one pass finds them all.
	for i := len(p.Steps) - 1; i >= 0; i-- {
		s := p.Steps[i]
		if !want[s.Name] {
			continue
		}
		for _, n := range s.Needs {
			want[n] = true
		}
		for _, earlier := range p.Steps[:i] {
			if earlier.Critical || sameDriver(earlier.Kind, s.Kind) {
				want[earlier.Name] = true
			}
		}
	}
	var out []string
	for _, s := range p.Steps {
		if want[s.Name] {
			out = append(out, s.Name)
		}
	}
	return out
}

// sameDriver says whether two step kinds (lxd.launch, lxd.exec) are of one
// driver that keeps state between its steps; plain kinds (shell) are not.
func sameDriver(a, b string) bool {
	da, _, okA := strings.Cut(a, ".")
	db, _, okB := strings.Cut(b, ".")
	return okA && okB && da == db
}
