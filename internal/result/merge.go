package result

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Part is one shard's result and where it was read from, for errors.
type Part struct {
	File   string
	Result *Result
}

// Merge joins the results of the shards of one run of one plan (--shard
// I/N, I from 0 to N-1) into one, as if it had been one run: every host,
// sorted by name (the shards' inventory positions are not recorded), from
// the earliest start to the latest end, interrupted if any shard was, so
// that its exit code is the whole run's. It refuses what would not make one
// run: a result that is not a shard, shards of different counts, plans or
// steps, an index given twice or missing, a host in two shards.
func Merge(parts []Part) (*Result, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no results to merge")
	}
	parts = slices.Clone(parts)
	if err := checkShards(parts); err != nil {
		return nil, err
	}
	first := parts[0]
	merged := &Result{Schema: Schema, Plan: first.Result.Plan, Steps: first.Result.Steps, Cleanup: first.Result.Cleanup}
	var runIDs []string
	var end time.Time
	owner := map[string]string{} // host name → the file that had it
	for _, p := range parts {
		r := p.Result
		if r.Plan != first.Result.Plan {
			return nil, fmt.Errorf("%s is plan %q, %s plan %q: shards of one plan only", p.File, r.Plan, first.File, first.Result.Plan)
		}
		if err := sameSteps(first, p); err != nil {
			return nil, err
		}
		for _, h := range r.Hosts {
			if other, ok := owner[h.Name]; ok {
				return nil, fmt.Errorf("host %s is in %s and in %s: shards overlap (the same shard twice, or a changed inventory?)", h.Name, other, p.File)
			}
			owner[h.Name] = p.File
		}
		merged.Hosts = append(merged.Hosts, r.Hosts...)
		if merged.Started.IsZero() || r.Started.Before(merged.Started) {
			merged.Started = r.Started
		}
		if e := r.Started.Add(time.Duration(r.DurationMS) * time.Millisecond); e.After(end) {
			end = e
		}
		merged.Interrupted = merged.Interrupted || r.Interrupted
		runIDs = append(runIDs, r.RunID)
	}
	sort.SliceStable(merged.Hosts, func(i, j int) bool { return merged.Hosts[i].Name < merged.Hosts[j].Name })
	merged.DurationMS = end.Sub(merged.Started).Milliseconds()
	merged.RunID = strings.Join(runIDs, ",")
	return merged, nil
}

// checkShards: every part a shard, of one count, each index once. It puts
// the parts in index order.
// maxShards bounds a shard count read from a result file.
const maxShards = 1 << 16

func checkShards(parts []Part) error {
	for _, p := range parts {
		if p.Result.Shard == nil {
			return fmt.Errorf("%s is not a shard's result: merge the results of run --shard I/N, one per I", p.File)
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].Result.Shard.Index < parts[j].Result.Shard.Index })
	count := parts[0].Result.Shard.Count
	if count < 1 || count > maxShards {
		// From a file: never trusted to size what is allocated below.
		return fmt.Errorf("%s: shard count %d is not in 1-%d", parts[0].File, count, maxShards)
	}
	byIndex := make([]string, count)
	for _, p := range parts {
		s := p.Result.Shard
		if s.Count != count {
			return fmt.Errorf("%s is shard %s, %s shard %s: shards of one split only", parts[0].File, parts[0].Result.Shard, p.File, s)
		}
		if s.Index < 0 || s.Index >= count {
			return fmt.Errorf("%s: shard %s is not one of %d", p.File, s, count)
		}
		if byIndex[s.Index] != "" {
			return fmt.Errorf("%s and %s are both shard %s", byIndex[s.Index], p.File, s)
		}
		byIndex[s.Index] = p.File
	}
	var missing []string
	for i, file := range byIndex {
		if file == "" {
			missing = append(missing, fmt.Sprintf("%d/%d", i, count))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shard %s missing: merge one result of each of the %d shards", strings.Join(missing, ", "), count)
	}
	return nil
}

// sameSteps refuses shards whose plans have other steps: the same names,
// and on their hosts the same kinds and commands.
func sameSteps(a, b Part) error {
	if !slices.Equal(a.Result.Steps, b.Result.Steps) || !slices.Equal(a.Result.Cleanup, b.Result.Cleanup) {
		return fmt.Errorf("%s has steps %s, %s steps %s: shards of one plan only", a.File, stepList(a.Result), b.File, stepList(b.Result))
	}
	sa, sb := commands(a.Result), commands(b.Result)
	for i := range sa {
		if sa[i] != "" && sb[i] != "" && sa[i] != sb[i] {
			return fmt.Errorf("step %q is %s in %s, %s in %s: shards of one plan only", a.Result.Steps[i], sa[i], a.File, sb[i], b.File)
		}
	}
	return nil
}

func stepList(r *Result) string {
	list := strings.Join(r.Steps, ", ")
	if len(r.Cleanup) > 0 {
		list += "; cleanup " + strings.Join(r.Cleanup, ", ")
	}
	return "[" + list + "]"
}

// commands is what each step of r ran (kind and command), as its first host
// recorded it; empty when r has no host.
func commands(r *Result) []string {
	out := make([]string, len(r.Steps))
	if len(r.Hosts) == 0 {
		return out
	}
	for i, s := range r.Hosts[0].Steps {
		if i < len(out) {
			out[i] = fmt.Sprintf("%s %q", s.Kind, s.Command)
		}
	}
	return out
}
