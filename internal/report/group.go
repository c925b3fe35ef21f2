package report

import (
	"sort"
	"strconv"
	"strings"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// outcome is one group of a step: the hosts that gave the same answer.
type outcome struct {
	status       result.Status // empty: the hosts have no such step
	hosts        []int         // indices into res.Hosts, in inventory order
	odd          bool          // not the most common answer (compare.Group.Odd)
	step         *result.StepResult
	mask         func(string) string // the step's texts with their values (expanded, for a page that wraps itself)
	shown        [3]compare.Shown    // by compare.Part: the reason, stdout, stderr as shown
	reason       string              // as shown
	minMS, maxMS int64
	own          *compare.Mask // the first host's
}

// expanded is a mask for cellBody and bodyOf that shows the group's texts
// with what their placeholders stood for (expand), rows of width cells (0:
// a page that wraps itself); names names a set of hosts (hostNamer).
func (o *outcome) expanded(names func([]int) string, width int) func(string) string {
	return o.showing(func(s compare.Shown) string { return expand(s, names, width) })
}

// showing is a mask for cellBody and bodyOf: the group's first step's
// reason, stdout and stderr as show has them, anything else (an
// expectation's detail) with the first host's identity and volatile values
// masked.
func (o *outcome) showing(show func(compare.Shown) string) func(string) string {
	raw := [3]string{o.step.Summary(), o.step.Stdout, o.step.Stderr}
	return func(t string) string {
		for part, r := range raw {
			if t == r {
				return show(o.shown[part])
			}
		}
		if len(o.hosts) == 1 {
			return t // nothing varies in a group of one
		}
		return o.own.Apply(t)
	}
}

// stepOutcomes is a step's hosts gathered by outcome, largest group first.
type stepOutcomes struct {
	name, command string
	cleanup       bool
	outcomes      []*outcome
	cmp           *compare.Step
}

// groupSteps gathers every step's hosts by outcome, as compare.Run
// decides, each group with its texts as shown.
func groupSteps(res *result.Result) []stepOutcomes { return groupStepsOf(res, compare.Run(res)) }

// groupStepsOf is groupSteps of steps already compared.
func groupStepsOf(res *result.Result, steps []compare.RunStep) []stepOutcomes {
	names := hostNamer(res)
	var all []stepOutcomes
	for _, rs := range steps {
		so := stepOutcomes{name: rs.Name, command: rs.Command, cleanup: rs.Cleanup, cmp: rs.Step}
		for gi, g := range rs.Groups {
			first := g.Hosts[0]
			o := &outcome{status: g.Status, hosts: g.Hosts, odd: g.Odd, minMS: -1}
			if !g.None {
				o.step = compare.Pick(res.Hosts[first], rs.Index, rs.Cleanup)
				for _, part := range []compare.Part{compare.Reason, compare.Stdout, compare.Stderr} {
					o.shown[part] = rs.Show(gi, part)
				}
				o.reason = o.shown[compare.Reason].Text
				o.own = rs.Mask(first)
				o.mask = o.expanded(names, 0)
				for _, h := range g.Hosts {
					s := compare.Pick(res.Hosts[h], rs.Index, rs.Cleanup)
					if o.minMS < 0 || s.DurationMS < o.minMS {
						o.minMS = s.DurationMS
					}
					o.maxMS = max(o.maxMS, s.DurationMS)
				}
			}
			so.outcomes = append(so.outcomes, o)
		}
		all = append(all, so)
	}
	return all
}

// Groups gathers, step by step, the hosts of res whose answers are equal
// (see compare.Compare), the largest group first, the odd ones out marked.
// It is what the JSON report carries and the grouped side view shows.
func Groups(res *result.Result) []result.StepGroups { return groupsOf(res, groupSteps(res)) }

// groupsOf is Groups from steps already gathered, for a renderer that
// shows them and embeds them too.
func groupsOf(res *result.Result, steps []stepOutcomes) []result.StepGroups {
	var out []result.StepGroups
	for _, so := range steps {
		sg := result.StepGroups{Step: so.name, Cleanup: so.cleanup}
		for _, o := range so.outcomes {
			g := result.Group{Status: o.status, Reason: o.reason, Odd: o.odd}
			for _, h := range o.hosts {
				g.Hosts = append(g.Hosts, res.Hosts[h].Name)
			}
			sg.Groups = append(sg.Groups, g)
		}
		out = append(out, sg)
	}
	return out
}

// connectOutcomes gathers hosts by how connecting went: those reached,
// and those not, by error (each host's identity masked), in order of
// first appearance.
func connectOutcomes(res *result.Result) (reached []int, errors []string, byError map[string][]int) {
	byError = map[string][]int{}
	for i, h := range res.Hosts {
		if h.Error == "" {
			reached = append(reached, i)
			continue
		}
		e := compare.IdentityOf(h, res.RunID).Mask(true).Apply(h.Error)
		if byError[e] == nil {
			errors = append(errors, e)
		}
		byError[e] = append(byError[e], i)
	}
	for i, e := range errors { // a group of one shows its host's error as it is
		if hosts := byError[e]; len(hosts) == 1 {
			delete(byError, e)
			errors[i] = res.Hosts[hosts[0]].Error
			byError[errors[i]] = hosts
		}
	}
	return reached, errors, byError
}

// hostLister names a set of res's hosts (indices into res.Hosts), folded
// as foldHosts does within budget, each name a clean line.
func hostLister(res *result.Result, budget int) func(hosts []int) string {
	names := make([]string, len(res.Hosts))
	for i, h := range res.Hosts {
		names[i] = text.Line(h.Name)
	}
	return func(hosts []int) string {
		list := make([]string, len(hosts))
		for i, h := range hosts {
			list[i] = names[h]
		}
		return foldHosts(list, budget)
	}
}

// foldHosts names hosts the way clubak does: sorted, numbered names with a
// common prefix folded into ranges (web[1-3,7]), at most budget cells of
// names, then the count: "arm64, armhf, ppc64el (3)".
func foldHosts(names []string, budget int) string {
	type numbered struct {
		n     int
		digit string
	}
	byPrefix := map[string][]numbered{}
	var prefixes []string
	plain := map[string]bool{}
	for _, name := range names {
		j := len(name)
		for j > 0 && name[j-1] >= '0' && name[j-1] <= '9' {
			j--
		}
		n, err := strconv.Atoi(name[j:])
		if j == len(name) || err != nil || len(name)-j > 9 {
			if !plain[name] {
				plain[name] = true
				prefixes = append(prefixes, name)
			}
			continue
		}
		p := name[:j]
		if _, seen := byPrefix[p]; !seen {
			prefixes = append(prefixes, "\x00"+p)
		}
		byPrefix[p] = append(byPrefix[p], numbered{n, name[j:]})
	}
	var items []string
	for _, p := range prefixes {
		if !strings.HasPrefix(p, "\x00") {
			items = append(items, p)
			continue
		}
		p = p[1:]
		nums := byPrefix[p]
		if len(nums) == 1 {
			items = append(items, p+nums[0].digit)
			continue
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i].n < nums[j].n })
		var ranges []string
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1].n == nums[j].n+1 && len(nums[j+1].digit) == len(nums[i].digit) {
				j++
			}
			r := nums[i].digit
			if j > i {
				r += "-" + nums[j].digit
			}
			ranges = append(ranges, r)
			i = j + 1
		}
		items = append(items, p+"["+strings.Join(ranges, ",")+"]")
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i] < items[j] })
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if budget > 0 && b.Len()+len(it) > budget && i > 0 {
			b.WriteString("… " + strconv.Itoa(len(items)-i) + " more")
			break
		}
		b.WriteString(it)
	}
	return b.String() + " (" + strconv.Itoa(len(names)) + ")"
}
