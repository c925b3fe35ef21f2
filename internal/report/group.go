package report

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// Placeholders that stand for a host's own identity in masked text.
const (
	MaskHost    = "<host>"
	MaskAddress = "<address>"
	MaskArch    = "<arch>"
	MaskRun     = "<run>"
)

type maskPattern struct{ old, new string }

// Masker returns a function that replaces, in text from host h, what is
// the host's own: its name, its address (with and without the port), every
// name of its declared architecture (everywhere's, dpkg's, uname -m's) and
// the run id, each as a whole word. Outputs that then agree are the same
// outcome: six hosts each printing their own `uname -m` agree, one printing
// another architecture's name does not.
func Masker(h result.HostResult, runID string) func(string) string {
	return masker(h, runID, MaskHost, MaskArch)
}

// sameness masks h's identity for comparing outcomes: its name and its
// architecture's names become one token, because a host may be named after
// its architecture (the lab's s390x answers `uname -m` with its own name).
func sameness(h result.HostResult, runID string) func(string) string {
	return masker(h, runID, "\x00self", "\x00self")
}

func masker(h result.HostResult, runID, hostToken, archToken string) func(string) string {
	var pats []maskPattern
	add := func(old, new string) {
		if old != "" {
			pats = append(pats, maskPattern{old, new})
		}
	}
	add(h.Address, MaskAddress)
	if hostPart, _, err := net.SplitHostPort(h.Address); err == nil {
		add(hostPart, MaskAddress)
	}
	add(h.Arch, archToken)
	if a, err := host.ParseArch(h.Arch); err == nil {
		add(string(a), archToken)
		add(a.Debian(), archToken)
		add(a.Kernel(), archToken)
	}
	// After the arch's names: a host named after its arch shows <arch>.
	add(h.Name, hostToken)
	add(runID, MaskRun)
	sort.SliceStable(pats, func(i, j int) bool { return len(pats[i].old) > len(pats[j].old) })
	var first [256]bool
	for _, p := range pats {
		first[p.old[0]] = true
	}
	return func(s string) string {
		var b strings.Builder
		last := 0
		for i := 0; i < len(s); i++ {
			if !first[s[i]] || (i > 0 && wordByte(s[i-1])) {
				continue
			}
			for _, p := range pats {
				end := i + len(p.old)
				if strings.HasPrefix(s[i:], p.old) && (end == len(s) || !wordByte(s[end])) {
					b.WriteString(s[last:i])
					b.WriteString(p.new)
					last = end
					i = end - 1
					break
				}
			}
		}
		if last == 0 {
			return s
		}
		b.WriteString(s[last:])
		return b.String()
	}
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// outcome is one group of a step: the hosts that gave the same result.
type outcome struct {
	status       result.Status // empty: the hosts have no such step
	hosts        []int         // indices into res.Hosts, in inventory order
	step         *result.StepResult
	mask         func(string) string // the first host's, for showing the step
	reason       string              // masked
	minMS, maxMS int64
}

// stepOutcomes is a step's hosts gathered by outcome, largest group first.
type stepOutcomes struct {
	name, command string
	cleanup       bool
	outcomes      []*outcome
}

// groupSteps gathers every step's hosts by outcome: status, reason,
// stdout and stderr, each host's identity masked.
func groupSteps(res *result.Result) []stepOutcomes {
	masks := make([]func(string) string, len(res.Hosts))
	same := make([]func(string) string, len(res.Hosts))
	for i, h := range res.Hosts {
		masks[i], same[i] = Masker(h, res.RunID), sameness(h, res.RunID)
	}
	var all []stepOutcomes
	gather := func(name string, cleanup bool, pick func(result.HostResult) *result.StepResult) {
		so := stepOutcomes{name: name, cleanup: cleanup}
		byKey := map[string]*outcome{}
		for i, h := range res.Hosts {
			s := pick(h)
			key := "\x00none"
			reason := ""
			if s != nil {
				if so.command == "" {
					so.command = s.Command
				}
				reason = masks[i](s.Summary())
				key = strings.Join([]string{string(s.Status), same[i](s.Summary()), same[i](s.Stdout), same[i](s.Stderr)}, "\x00")
			}
			o := byKey[key]
			if o == nil {
				o = &outcome{step: s, mask: masks[i], reason: reason, minMS: -1}
				if s != nil {
					o.status = s.Status
				}
				byKey[key] = o
				so.outcomes = append(so.outcomes, o)
			}
			o.hosts = append(o.hosts, i)
			if s != nil {
				if o.minMS < 0 || s.DurationMS < o.minMS {
					o.minMS = s.DurationMS
				}
				o.maxMS = max(o.maxMS, s.DurationMS)
			}
		}
		sort.SliceStable(so.outcomes, func(i, j int) bool { return len(so.outcomes[i].hosts) > len(so.outcomes[j].hosts) })
		all = append(all, so)
	}
	for i, name := range res.Steps {
		gather(name, false, func(h result.HostResult) *result.StepResult { return stepAt(h.Steps, i) })
	}
	for i, name := range res.Cleanup {
		gather(name, true, func(h result.HostResult) *result.StepResult { return stepAt(h.Cleanup, i) })
	}
	return all
}

// Groups gathers, step by step, the hosts of res whose outcomes (status,
// reason, stdout, stderr) are equal once each host's own identity is masked
// (see Masker), the largest group first; every other group is marked odd.
// It is what the JSON report carries and the grouped side view shows.
func Groups(res *result.Result) []result.StepGroups { return groupsOf(res, groupSteps(res)) }

// groupsOf is Groups from steps already gathered, for a renderer that
// shows them and embeds them too.
func groupsOf(res *result.Result, steps []stepOutcomes) []result.StepGroups {
	var out []result.StepGroups
	for _, so := range steps {
		sg := result.StepGroups{Step: so.name, Cleanup: so.cleanup}
		for i, o := range so.outcomes {
			g := result.Group{Status: o.status, Reason: o.reason, Odd: i > 0}
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
		e := Masker(h, res.RunID)(h.Error)
		if byError[e] == nil {
			errors = append(errors, e)
		}
		byError[e] = append(byError[e], i)
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
