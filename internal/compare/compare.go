package compare

import (
	"sort"
	"strings"

	"everywhere/internal/result"
)

// Part is one of the texts of an answer.
type Part uint8

// The parts of an answer, each compared in its place.
const (
	Reason Part = iota // why the step was not ok (result.StepResult.Summary)
	Stdout
	Stderr
)

// Answer is one host's outcome of a step, as it is compared.
type Answer struct {
	None   bool          // the host has no such step
	Status result.Status // of the step
	Texts  [3]string     // by Part
}

// AnswerOf is the answer of a host's step; nil is the host without it.
func AnswerOf(s *result.StepResult) Answer {
	if s == nil {
		return Answer{None: true}
	}
	return Answer{Status: s.Status, Texts: [3]string{s.Summary(), s.Stdout, s.Stderr}}
}

// Verdict is what a step's comparison found.
type Verdict uint8

// Verdicts.
const (
	Equal    Verdict = iota // every host that has the step gave one answer
	Majority                // one answer is the most common: the other groups are the odd ones out
	Split                   // no single answer is the most common: every group differs
)

// Group is the hosts that gave one answer.
type Group struct {
	Hosts  []int // indices of the hosts compared, in their order
	None   bool  // the hosts have no such step
	Status result.Status
	// Odd says the group is not the most common answer: its hosts differ.
	Odd bool
}

// Step is one step compared across hosts.
type Step struct {
	Groups  []Group // the largest first; of equal size, in order of their first host
	Verdict Verdict
	of      []int // host → its group
	answers []Answer
	masks   []*Mask
	tokens  [][3][]Token
	ids     []Identity
}

// Odd says host differs from the step's most common answer (see Group.Odd).
func (s *Step) Odd(host int) bool { return s.Groups[s.of[host]].Odd }

// Mask is the mask the comparison gave host: its name left out where the
// name is a word of the step's answers.
func (s *Step) Mask(host int) *Mask { return s.masks[host] }

// Compare compares one step: hosts ids[i] gave answers[i].
//
// A host's name is its identity, and masked, only where it is not a word
// of the answers themselves: not when another host's answer holds it too
// (hosts debian and ubuntu, whose os-release both say debian), and not
// when it names an operating system (NameIsAWord). Masking may then leave
// hosts apart that printed their own names, never merge hosts that
// printed different things.
func Compare(ids []Identity, answers []Answer) *Step {
	return compareWith(ids, answers, make([][2]*Mask, len(ids)))
}

func compareWith(ids []Identity, answers []Answer, made [][2]*Mask) *Step {
	l := newLive(ids, made)
	for i, a := range answers {
		l.add(i, a)
	}
	return l.step()
}

// Live compares one step as its answers arrive, one host at a time, as
// Compare does once they are all in: a live view's marks. A host that has
// not answered yet stands apart, as one without the step.
type Live struct {
	ids      []Identity
	answers  []Answer
	masks    []*Mask
	keys     []int          // by host: its answer's key, numbered (known)
	known    map[string]int // a key → its number; noneKey is 0
	tokens   [][3][]Token   // by host and Part, when few (keptTokens), for Show
	owner    map[string]int // a host's name → the host
	maxWords int            // of the longest name
	shared   map[string]bool
	made     [][2]*Mask // each host's masks, without and with its name, as made
}

// NewLive is the comparison of a step that the hosts ids may answer.
func NewLive(ids []Identity) *Live { return newLive(ids, make([][2]*Mask, len(ids))) }

// newLive is NewLive with masks made for another step of the same hosts.
func newLive(ids []Identity, made [][2]*Mask) *Live {
	l := &Live{made: made, ids: ids, answers: make([]Answer, len(ids)), masks: make([]*Mask, len(ids)), keys: make([]int, len(ids)),
		known:  map[string]int{noneKey: 0},
		tokens: make([][3][]Token, len(ids)), owner: map[string]int{}, shared: map[string]bool{}}
	for i, id := range ids {
		l.answers[i] = Answer{None: true}
		if id.Name != "" {
			l.owner[id.Name] = i
			l.maxWords = max(l.maxWords, len(words(id.Name)))
		}
	}
	return l
}

// Add files host's answer and returns the step as compared so far, good
// until the next Add.
func (l *Live) Add(host int, a Answer) *Step {
	l.add(host, a)
	return l.step()
}

const noneKey = "\x00none"

// add files an answer: it keys it, and keys again an earlier answer whose
// host's name this one shows to be a word of the answers (see Compare).
func (l *Live) add(host int, a Answer) {
	l.answers[host] = a
	for _, t := range a.Texts {
		eachSpan(t, l.maxWords, func(span string) {
			if o, ok := l.owner[span]; ok && o != host && !l.shared[span] {
				l.shared[span] = true
				if l.masks[o] != nil {
					l.key(o)
				}
			}
		})
	}
	l.key(host)
}

func (l *Live) key(i int) {
	name := l.ids[i].Name
	withName := 0
	if !l.shared[name] && !NameIsAWord(name) {
		withName = 1
	}
	if l.made[i][withName] == nil {
		l.made[i][withName] = l.ids[i].Mask(withName == 1)
	}
	l.masks[i] = l.made[i][withName]
	a := l.answers[i]
	if a.None {
		l.keys[i] = 0
		return
	}
	var b strings.Builder
	b.WriteString(string(a.Status))
	for p, t := range a.Texts {
		tokens := l.masks[i].Tokens(t)
		l.tokens[i][p] = nil
		if len(tokens) <= keptTokens {
			l.tokens[i][p] = tokens
		}
		b.WriteString("\x00\x01")
		b.WriteString(key(t, tokens))
	}
	n, ok := l.known[b.String()]
	if !ok {
		n = len(l.known)
		l.known[b.String()] = n
	}
	l.keys[i] = n
}

// keptTokens is how many tokens of a text Live keeps for Show: more (a
// long log with a time on every line) are found again when shown, not
// held for every host.
const keptTokens = 64

// step groups the answers by key.
func (l *Live) step() *Step {
	s := &Step{of: make([]int, len(l.ids)), answers: l.answers, masks: l.masks, tokens: l.tokens, ids: l.ids}
	byKey := map[int]int{} // a key's number → its group
	for i, key := range l.keys {
		g, ok := byKey[key]
		if !ok {
			g = len(s.Groups)
			byKey[key] = g
			s.Groups = append(s.Groups, Group{None: l.answers[i].None, Status: l.answers[i].Status})
		}
		s.Groups[g].Hosts = append(s.Groups[g].Hosts, i)
	}
	// Hosts without the step (a merged run of another plan) are apart:
	// last, and neither the most common answer nor a difference.
	order := make([]int, len(s.Groups))
	for i := range order {
		order[i] = i
	}
	rank := func(g Group) int {
		if g.None {
			return -1
		}
		return len(g.Hosts)
	}
	sort.SliceStable(order, func(a, b int) bool { return rank(s.Groups[order[a]]) > rank(s.Groups[order[b]]) })
	groups := make([]Group, len(order))
	answered := 0
	for to, from := range order {
		groups[to] = s.Groups[from]
		for _, h := range groups[to].Hosts {
			s.of[h] = to
		}
		if !groups[to].None {
			answered++
		}
	}
	s.Groups = groups
	switch {
	case answered <= 1:
		s.Verdict = Equal
	case len(groups[0].Hosts) > len(groups[1].Hosts):
		s.Verdict = Majority
		for i := 1; i < answered; i++ {
			groups[i].Odd = true
		}
	default:
		s.Verdict = Split
		for i := range answered {
			groups[i].Odd = true
		}
	}
	return s
}

// osWords are names of operating systems and distributions, as
// os-release's ID and uname -s print them: a host named after one is
// named after an answer, so its name is not masked.
var osWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`linux gnu debian ubuntu fedora centos rhel redhat rocky almalinux alma
		alpine arch archlinux manjaro opensuse suse sles gentoo nixos amzn amazon ol oracle raspbian kali mint
		linuxmint void slackware devuan mageia openwrt busybox freebsd openbsd netbsd darwin macos windows`) {
		osWords[w] = true
	}
}

// NameIsAWord says a host's name is a word outputs hold for another
// reason than being the host's name: an operating system's (debian,
// ubuntu, fedora, …), in any case.
func NameIsAWord(name string) bool { return osWords[strings.ToLower(name)] }

// words are the [A-Za-z0-9] runs of s, as index pairs.
func words(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !wordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && wordByte(s[j]) {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

func joiner(c byte) bool { return c == '.' || c == '-' || c == '_' }

// eachSpan calls fn with every run of 1 to n whole words of s joined by
// single joiners (the forms a host's name takes: pi4, web-1, db.lan).
func eachSpan(s string, n int, fn func(string)) {
	if n == 0 {
		return
	}
	ws := words(s)
	for a := range ws {
		for b := a; b < len(ws) && b < a+n; b++ {
			if b > a && (ws[b][0]-ws[b-1][1] != 1 || !joiner(s[ws[b-1][1]])) {
				break
			}
			fn(s[ws[a][0]:ws[b][1]])
		}
	}
}

// RunStep is one step of a run, compared.
type RunStep struct {
	Name    string // as the plan names it
	Index   int    // among the plan's steps, or its cleanup steps
	Cleanup bool
	Command string // as the first host that ran it has it
	*Step
}

// Pick is host h's step i, of the cleanup steps when cleanup; nil when
// the host has none.
func Pick(h result.HostResult, i int, cleanup bool) *result.StepResult {
	steps := h.Steps
	if cleanup {
		steps = h.Cleanup
	}
	if i < len(steps) {
		return &steps[i]
	}
	return nil
}

// Run compares every step of res, then every cleanup step: the one
// comparison every view of a result shows.
func Run(res *result.Result) []RunStep {
	ids := make([]Identity, len(res.Hosts))
	for i, h := range res.Hosts {
		ids[i] = IdentityOf(h, res.RunID)
	}
	var out []RunStep
	made := make([][2]*Mask, len(ids))
	add := func(names []string, cleanup bool) {
		for i, name := range names {
			rs := RunStep{Name: name, Index: i, Cleanup: cleanup}
			answers := make([]Answer, len(res.Hosts))
			for h, hr := range res.Hosts {
				s := Pick(hr, i, cleanup)
				answers[h] = AnswerOf(s)
				if s != nil && rs.Command == "" {
					rs.Command = s.Command
				}
			}
			rs.Step = compareWith(ids, answers, made)
			out = append(out, rs)
		}
	}
	add(res.Steps, false)
	add(res.Cleanup, true)
	return out
}
