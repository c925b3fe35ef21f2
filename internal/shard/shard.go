// Package shard splits a fleet between the jobs of an engine the user
// already runs (a CI matrix, a Kubernetes Indexed Job): shard I of N is the
// hosts whose name hashes to I, so N jobs that each run one shard cover every
// host exactly once without talking to each other.
//
// The hash is Lamping and Veach's jump consistent hash ("A Fast, Minimal
// Memory, Consistent Hash Algorithm", 2014) of the first 8 bytes of the
// SHA-256 of the host's name. A host's shard depends on its name and N
// alone: reordering the inventory moves no host, adding hosts moves none of
// the others, and going from N to N+1 shards moves only the 1/(N+1) of hosts
// that the new shard takes. Rendezvous hashing has the same properties but
// costs N hashes per host; jump hash costs O(log N) and needs no table.
// SHA-256, not hash/maphash or FNV: the same on every machine and Go version,
// and names that differ in one character land far apart.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"everywhere/internal/text"
)

// Shard is one of Count slices of a fleet. Index counts from 0, like a
// Kubernetes completion index: 0/2 and 1/2 make a pair.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String is the shard as --shard takes it: "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Of returns the shard, out of count, that the host named name belongs to.
func Of(name string, count int) int {
	sum := sha256.Sum256([]byte(name))
	return jump(binary.BigEndian.Uint64(sum[:8]), count)
}

// jump is the jump consistent hash of key into buckets [0, buckets).
func jump(key uint64, buckets int) int {
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// Owns says whether the host named name is in this shard.
func (s Shard) Owns(name string) bool { return Of(name, s.Count) == s.Index }

// The variables --shard auto reads.
const (
	// KubernetesIndex is set in each pod of a Kubernetes Indexed Job,
	// counting from 0. Kubernetes passes no count: --shard auto/N, or Count.
	KubernetesIndex = "JOB_COMPLETION_INDEX"
	// Count is the shard count for --shard auto where the engine sets none:
	// set it to the Job's spec.completions.
	Count = "EVERYWHERE_SHARDS"
	// GitLabIndex and GitLabTotal are set by GitLab CI in each job of a
	// `parallel: N` job, the index counting from 1.
	GitLabIndex = "CI_NODE_INDEX"
	GitLabTotal = "CI_NODE_TOTAL"
)

// Parse reads a --shard value: "I/N", or "auto" or "auto/N", which take the
// index from the engine's variables (through getenv): a Kubernetes Indexed
// Job's JOB_COMPLETION_INDEX (the count from auto/N, else
// EVERYWHERE_SHARDS) or GitLab's CI_NODE_INDEX and CI_NODE_TOTAL (from 1).
func Parse(value string, getenv func(string) string) (Shard, error) {
	index, count, found := strings.Cut(value, "/")
	if index != "auto" {
		if !found {
			return Shard{}, errors.New(`give "I/N" (shard I of N, I from 0), "auto" or "auto/N"`)
		}
		i, err := number("index", index)
		if err != nil {
			return Shard{}, err
		}
		return checked(i, count)
	}
	k8s, gitlab := getenv(KubernetesIndex), getenv(GitLabIndex)
	switch {
	case k8s != "" && gitlab != "":
		return Shard{}, fmt.Errorf("auto: both %s and %s are set; give I/N", KubernetesIndex, GitLabIndex)
	case k8s != "":
		i, err := number(KubernetesIndex, k8s)
		if err != nil {
			return Shard{}, fmt.Errorf("auto: %w", err)
		}
		if found {
			return checked(i, count)
		}
		if count = getenv(Count); count == "" {
			return Shard{}, fmt.Errorf("auto: %s=%s but no count: give auto/N or set %s (the Job's completions)", KubernetesIndex, k8s, Count)
		}
		s, err := checked(i, count)
		if err != nil {
			return Shard{}, fmt.Errorf("auto: %s: %w", Count, err)
		}
		return s, nil
	case gitlab != "":
		i, err := number(GitLabIndex, gitlab)
		if err != nil {
			return Shard{}, fmt.Errorf("auto: %w", err)
		}
		total := getenv(GitLabTotal)
		if found && total != "" && count != total {
			return Shard{}, fmt.Errorf("auto/%s: %s is %s", count, GitLabTotal, total)
		}
		if !found {
			count = total
		}
		if i < 1 {
			return Shard{}, fmt.Errorf("auto: %s=%d: GitLab counts from 1", GitLabIndex, i)
		}
		return checked(i-1, count)
	}
	return Shard{}, fmt.Errorf("auto: none of %s (Kubernetes Indexed Job) or %s (GitLab parallel) is set; give I/N", KubernetesIndex, GitLabIndex)
}

// checked is shard index of count, once count is a number of shards and
// index one of them.
func checked(index int, count string) (Shard, error) {
	n, err := number("count", count)
	if err != nil {
		return Shard{}, err
	}
	if n < 1 {
		return Shard{}, errors.New("count 0: at least 1 shard")
	}
	if index >= n {
		return Shard{}, fmt.Errorf("index %d of %s: indexes run from 0 to %d", index, text.Count(n, "shard", "shards"), n-1)
	}
	return Shard{Index: index, Count: n}, nil
}

func number(what, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q: not a whole number", what, s)
	}
	return n, nil
}
