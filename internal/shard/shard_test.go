package shard

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		value string
		env   map[string]string
		want  Shard
		err   string // part of the error; "" for none
	}{
		{value: "0/2", want: Shard{0, 2}},
		{value: "1/2", want: Shard{1, 2}},
		{value: "0/1", want: Shard{0, 1}},
		{value: " 3 / 8 ", want: Shard{3, 8}},
		{value: "2/2", err: "index 2 of 2 shards: indexes run from 0 to 1"},
		{value: "1/1", err: "index 1 of 1 shard: indexes run from 0 to 0"},
		{value: "0/0", err: "at least 1 shard"},
		{value: "-1/2", err: `index "-1": not a whole number`},
		{value: "1", err: `give "I/N"`},
		{value: "a/2", err: `index "a"`},
		{value: "1/b", err: `count "b"`},
		{value: "", err: `give "I/N"`},
		// Kubernetes Indexed Job: the index from 0, the count given.
		{value: "auto/4", env: map[string]string{"JOB_COMPLETION_INDEX": "3"}, want: Shard{3, 4}},
		{value: "auto", env: map[string]string{"JOB_COMPLETION_INDEX": "0", "EVERYWHERE_SHARDS": "4"}, want: Shard{0, 4}},
		{value: "auto/4", env: map[string]string{"JOB_COMPLETION_INDEX": "1", "EVERYWHERE_SHARDS": "9"}, want: Shard{1, 4}}, // the flag wins
		{value: "auto", env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, err: "but no count: give auto/N or set EVERYWHERE_SHARDS"},
		{value: "auto", env: map[string]string{"JOB_COMPLETION_INDEX": "0", "EVERYWHERE_SHARDS": "x"}, err: `EVERYWHERE_SHARDS: count "x"`},
		{value: "auto/4", env: map[string]string{"JOB_COMPLETION_INDEX": "4"}, err: "index 4 of 4 shards"},
		{value: "auto/4", env: map[string]string{"JOB_COMPLETION_INDEX": "x"}, err: `JOB_COMPLETION_INDEX "x"`},
		// GitLab parallel: from 1.
		{value: "auto", env: map[string]string{"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, want: Shard{0, 3}},
		{value: "auto", env: map[string]string{"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, want: Shard{2, 3}},
		{value: "auto/3", env: map[string]string{"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, want: Shard{1, 3}},
		{value: "auto/4", env: map[string]string{"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, err: "auto/4: CI_NODE_TOTAL is 3"},
		{value: "auto", env: map[string]string{"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"}, err: "GitLab counts from 1"},
		{value: "auto", env: map[string]string{"CI_NODE_INDEX": "4", "CI_NODE_TOTAL": "3"}, err: "index 3 of 3 shards"},
		{value: "auto", env: map[string]string{"CI_NODE_INDEX": "1"}, err: `count ""`},
		{value: "auto", err: "none of JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or CI_NODE_INDEX (GitLab parallel) is set"},
		{value: "auto", env: map[string]string{"JOB_COMPLETION_INDEX": "0", "CI_NODE_INDEX": "1"}, err: "both JOB_COMPLETION_INDEX and CI_NODE_INDEX are set"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got, err := Parse(tc.value, func(name string) string { return tc.env[name] })
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Parse(%q) with %v: %v", tc.value, tc.env, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Parse(%q) with %v: error %v, want one containing %q", tc.value, tc.env, err, tc.err)
			case got != tc.want:
				t.Fatalf("Parse(%q) with %v = %v, want %v", tc.value, tc.env, got, tc.want)
			}
		})
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("host-%d", i)
	}
	return out
}

// TestJumpMatchesThePaper: buckets the paper's C++ reference gives for
// these keys and 1 to 19 buckets.
func TestJumpMatchesThePaper(t *testing.T) {
	for key, want := range map[uint64][]int{
		0:                  {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		1:                  {0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17},
		0xdeadbeef:         {0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16},
		0x0ddc0ffeebadf00d: {0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15},
	} {
		for i, w := range want {
			if got := jump(key, i+1); got != w {
				t.Errorf("jump(%#x, %d) = %d, want %d", key, i+1, got, w)
			}
		}
	}
}

// TestOfIsFixed pins the mapping: shards run by different versions of
// everywhere in one merge must agree on it.
func TestOfIsFixed(t *testing.T) {
	var got []string
	for _, name := range []string{"alpha", "bravo", "charlie", "delta", "echo", "sim0", "sim1", "arm64-1"} {
		got = append(got, fmt.Sprintf("%s:%d", name, Of(name, 4)))
	}
	const want = "alpha:2 bravo:2 charlie:1 delta:1 echo:2 sim0:3 sim1:0 arm64-1:0"
	if strings.Join(got, " ") != want {
		t.Errorf("Of(name, 4): %s, want %s", strings.Join(got, " "), want)
	}
}

// TestShardsCoverTheFleet: every host in exactly one shard, shards of even
// size, and the properties that make the mapping stable.
func TestShardsCoverTheFleet(t *testing.T) {
	hosts := names(10000)
	for _, n := range []int{1, 2, 3, 4, 7, 16, 100} {
		size := make([]int, n)
		for _, h := range hosts {
			owners := 0
			for i := range n {
				if (Shard{i, n}).Owns(h) {
					owners++
					size[i]++
				}
			}
			if owners != 1 {
				t.Fatalf("%d shards: host %s in %d of them", n, h, owners)
			}
		}
		mean := len(hosts) / n
		for i, s := range size {
			// Binomial spread: within 5 standard deviations of the mean.
			if d := s - mean; d*d > 25*mean {
				t.Errorf("%d shards: shard %d has %d hosts, mean %d", n, i, s, mean)
			}
		}
	}
	// One more shard moves hosts only into the new shard, about 1/(N+1) of them.
	moved := 0
	for _, h := range hosts {
		before, after := Of(h, 4), Of(h, 5)
		if before != after {
			moved++
			if after != 4 {
				t.Fatalf("host %s moved from shard %d to %d, not to the new shard", h, before, after)
			}
		}
	}
	if moved < len(hosts)/5-300 || moved > len(hosts)/5+300 {
		t.Errorf("4 to 5 shards moved %d of %d hosts, want about a fifth", moved, len(hosts))
	}
}
