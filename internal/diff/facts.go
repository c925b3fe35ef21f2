package diff

import (
	"slices"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// FactChange is one fact of a host's environment that differs between the
// runs: what changed underneath its steps (a kernel, a package version).
type FactChange struct {
	Name string `json:"name"`          // as result.Facts.List names it: kernel, docker.io, engine docker
	Old  string `json:"old,omitempty"` // empty: the run did not have it
	New  string `json:"new,omitempty"`
}

// ArchFacts is what changed underneath the hosts of one architecture: each
// distinct change of any of its hosts, in the order first seen.
type ArchFacts struct {
	Arch    string       `json:"arch"`
	Hosts   int          `json:"hosts"` // pairs of hosts of this arch
	Changes []FactChange `json:"changes"`
}

// compareFacts lists the facts that differ, in the order of the new run's
// facts, then those only the old run had. Hosts without facts (a result
// written before facts, or a host not reached) compare as unknown: nothing.
func compareFacts(old, new *result.Facts) []FactChange {
	if old == nil || new == nil {
		return nil
	}
	oldList, newList := old.List(), new.List()
	oldValues := map[string]string{}
	for _, f := range oldList {
		oldValues[f.Name] = f.Value
	}
	var out []FactChange
	seen := map[string]bool{}
	for _, f := range newList {
		seen[f.Name] = true
		if oldValues[f.Name] != f.Value {
			out = append(out, FactChange{Name: f.Name, Old: oldValues[f.Name], New: f.Value})
		}
	}
	for _, f := range oldList {
		if !seen[f.Name] {
			out = append(out, FactChange{Name: f.Name, Old: f.Value})
		}
	}
	return out
}

// archFacts gathers the hosts' fact changes by architecture, in the order
// the architectures first come.
func archFacts(hosts []Host) []ArchFacts {
	var out []ArchFacts
	index := map[string]int{}
	for _, h := range hosts {
		if len(h.Facts) == 0 {
			continue
		}
		arch := canonical(h.Arch)
		i, ok := index[arch]
		if !ok {
			i = len(out)
			index[arch] = i
			out = append(out, ArchFacts{Arch: arch})
		}
		a := &out[i]
		a.Hosts++
		for _, c := range h.Facts {
			if !containsChange(a.Changes, c) {
				a.Changes = append(a.Changes, c)
			}
		}
	}
	return out
}

func containsChange(list []FactChange, c FactChange) bool { return slices.Contains(list, c) }

// factLine is fact changes as one line, for every renderer:
// "kernel 6.1.0-28-amd64 → 6.12.9-amd64, docker.io 20.10.24 → 26.1.5".
func factLine(changes []FactChange) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.Name + " " + orNoneText(shortValue(c.Old)) + " → " + orNoneText(shortValue(c.New))
	}
	return text.Line(strings.Join(parts, ", "))
}

// shortValue shortens an image id as docker image ls does.
func shortValue(v string) string {
	if id, ok := strings.CutPrefix(v, "sha256:"); ok && len(id) > 12 {
		return id[:12]
	}
	return v
}

func orNoneText(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// underneathCount is how many fact changes the architectures have.
func (d *Diff) underneathCount() int {
	n := 0
	for _, a := range d.Underneath {
		n += len(a.Changes)
	}
	return n
}

// hostFacts says whether host h's own fact changes are worth a line of
// their own: when its architecture has other hosts, whose changes the
// architecture's line mixes with its own.
func (d *Diff) hostFacts(h Host) bool {
	for _, a := range d.Underneath {
		if a.Arch == canonical(h.Arch) {
			return a.Hosts > 1 && len(h.Facts) > 0
		}
	}
	return false
}

// canonical is an arch in everywhere's spelling, where it knows the arch.
func canonical(arch string) string {
	if a, err := host.ParseArch(arch); err == nil {
		return string(a)
	}
	return arch
}

// factGroup is architectures whose hosts' facts changed alike, as the
// renderers show them: "armhf, amd64" and the changes, a line each.
type factGroup struct {
	Arches string
	Lines  []string // "docker.io 20.10.24 → 26.1.5"
}

// underneath folds the architectures with the same changes into one group.
func (d *Diff) underneath() []factGroup {
	var groups []factGroup
	var lists [][]FactChange
	for _, a := range d.Underneath {
		i := slices.IndexFunc(lists, func(l []FactChange) bool { return slices.Equal(l, a.Changes) })
		if i >= 0 {
			groups[i].Arches += ", " + text.Line(a.Arch)
			continue
		}
		g := factGroup{Arches: text.Line(a.Arch)}
		for _, c := range a.Changes {
			g.Lines = append(g.Lines, factLine([]FactChange{c}))
		}
		groups, lists = append(groups, g), append(lists, a.Changes)
	}
	return groups
}
