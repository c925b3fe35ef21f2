package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/shard"
	"everywhere/internal/sshtest"
)

// fleetInventory starts an in-process SSH server per host and writes an
// inventory of them, and of one host where nothing listens ("down"). Hosts
// whose name starts with "bad" fail the step "check".
func fleetInventory(t *testing.T, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("defaults: {connect_timeout: 5s}\nhosts:\n")
	for i, name := range names {
		arch := host.AllArchs()[i%len(host.AllArchs())]
		if name == "down" {
			fmt.Fprintf(&b, "  - {name: down, arch: %s, address: 127.0.0.1, port: 1}\n", arch)
			continue
		}
		s := sshtest.NewServer(t, func(command string, stdout, _ io.Writer, _ <-chan struct{}) int {
			switch command {
			case "uname -m":
				fmt.Fprintln(stdout, arch.Kernel())
			case "check":
				if strings.HasPrefix(name, "bad") {
					return 1
				}
				fmt.Fprintln(stdout, "fine")
			}
			return 0
		})
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, port: %d, identity: %s, known_hosts: %s}\n", name, arch, s.Host, s.Port, s.IdentityFile, s.KnownHostsFile)
	}
	file := filepath.Join(t.TempDir(), "inventory.yaml")
	writeFile(t, file, b.String())
	return file
}

const shardPlan = "name: sharded\nsteps:\n  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}\n  - {name: check, shell: check}\ncleanup:\n  - {name: tidy, shell: 'true'}\n"

// outcome is what a merged run must agree with one run on: per host, its
// status and each step's status and output.
func outcome(r *result.Result) []string {
	var out []string
	for _, h := range r.Hosts {
		line := h.Name + " " + string(h.Status)
		for _, s := range append(h.Steps, h.Cleanup...) {
			line += fmt.Sprintf(" | %s %s %q", s.Name, s.Status, s.Stdout)
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// TestShardsMergeLikeOneRun runs the built binary: four shard processes at
// once, then report merge, against one run over the same hosts.
func TestShardsMergeLikeOneRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "everywhere")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var names []string
	for i := range 11 {
		names = append(names, fmt.Sprintf("host-%d", i))
	}
	names = append(names, "bad-1", "bad-2", "down")
	inv := fleetInventory(t, names...)
	planFile := filepath.Join(dir, "plan.yaml")
	writeFile(t, planFile, shardPlan)
	everywhereBin := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	common := []string{"-i", inv, "-p", planFile, "--no-progress", "--format", "json"}

	oneCode, oneOut := everywhereBin(append([]string{"run", "-o", filepath.Join(dir, "one")}, common...)...)
	one, err := result.ReadFile(filepath.Join(dir, "one", "result.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, oneOut)
	}
	if oneCode != result.ExitFailed || len(one.Hosts) != len(names) {
		t.Fatalf("one run: exit %d, %d hosts\n%s", oneCode, len(one.Hosts), oneOut)
	}

	const n = 4
	var wg sync.WaitGroup
	codes, outs := make([]int, n), make([]string, n)
	shardFiles := make([]string, n)
	for i := range n {
		shardFiles[i] = filepath.Join(dir, fmt.Sprintf("shard-%d", i), "result.json")
		wg.Go(func() {
			codes[i], outs[i] = everywhereBin(append([]string{"run", "--shard", fmt.Sprintf("%d/%d", i, n), "-o", filepath.Dir(shardFiles[i])}, common...)...)
		})
	}
	wg.Wait()
	seen := 0
	for i := range n {
		r, err := result.ReadFile(shardFiles[i])
		if err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, outs[i])
		}
		if r.Shard == nil || *r.Shard != (shard.Shard{Index: i, Count: n}) || codes[i] != r.ExitCode() {
			t.Errorf("shard %d: recorded %v, exit %d for a result of exit %d", i, r.Shard, codes[i], r.ExitCode())
		}
		for _, h := range r.Hosts {
			if shard.Of(h.Name, n) != i {
				t.Errorf("shard %d ran host %s of shard %d", i, h.Name, shard.Of(h.Name, n))
			}
		}
		seen += len(r.Hosts)
	}
	if seen != len(names) {
		t.Errorf("the shards ran %d hosts, want %d", seen, len(names))
	}

	merged := filepath.Join(dir, "merged")
	code, out := everywhereBin(append([]string{"report", "merge", "-o", merged, "--format", "json"}, shardFiles...)...)
	if code != oneCode {
		t.Errorf("merge: exit %d, one run %d\n%s", code, oneCode, out)
	}
	m, err := result.ReadFile(filepath.Join(merged, "result.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !slices.Equal(outcome(m), outcome(one)) || !slices.Equal(m.Steps, one.Steps) || !slices.Equal(m.Cleanup, one.Cleanup) || m.Plan != one.Plan {
		t.Errorf("merged:\n%s\none run:\n%s", strings.Join(outcome(m), "\n"), strings.Join(outcome(one), "\n"))
	}
	if !slices.IsSortedFunc(m.Hosts, func(a, b result.HostResult) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("merged hosts not sorted by name")
	}
	for _, f := range []string{"report.txt", "junit.xml", "report.md"} {
		if _, err := os.Stat(filepath.Join(merged, f)); err != nil {
			t.Errorf("merge -o: %v", err)
		}
	}
	// Three of four shards are refused, saying which one is missing.
	code, out = everywhereBin(append([]string{"report", "merge"}, shardFiles[1:]...)...)
	if code != result.ExitUsage || !strings.Contains(out, "shard 0/4 missing") {
		t.Errorf("merge of 3 shards of 4: exit %d\n%s", code, out)
	}
}

// TestShardAutoFromEnvironment: --shard auto takes the index from the
// engine's variables, and the result records the shard.
func TestShardAutoFromEnvironment(t *testing.T) {
	inv := fleetInventory(t, "alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	writeFile(t, planFile, shardPlan)
	for _, tc := range []struct {
		name string
		env  map[string]string
		flag string
		want shard.Shard
	}{
		{"kubernetes", map[string]string{"JOB_COMPLETION_INDEX": "1"}, "auto/3", shard.Shard{Index: 1, Count: 3}},
		{"kubernetes-count-variable", map[string]string{"JOB_COMPLETION_INDEX": "0", "EVERYWHERE_SHARDS": "2"}, "auto", shard.Shard{Index: 0, Count: 2}},
		{"gitlab", map[string]string{"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"}, "auto", shard.Shard{Index: 1, Count: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"JOB_COMPLETION_INDEX", "EVERYWHERE_SHARDS", "CI_NODE_INDEX", "CI_NODE_TOTAL"} {
				t.Setenv(v, tc.env[v])
			}
			out := t.TempDir()
			code, stdout, stderr := everywhere(context.Background(), "run", "-i", inv, "-p", planFile, "--shard", tc.flag, "--no-progress", "-o", out)
			res, err := result.ReadFile(filepath.Join(out, "result.json"))
			if err != nil || code != result.ExitOK {
				t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout, stderr)
			}
			if res.Shard == nil || *res.Shard != tc.want {
				t.Errorf("recorded shard %v, want %v", res.Shard, tc.want)
			}
			var got, want []string
			for _, h := range res.Hosts {
				got = append(got, h.Name)
			}
			for _, name := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"} {
				if tc.want.Owns(name) {
					want = append(want, name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("hosts %v, want %v", got, want)
			}
		})
	}
}

// TestEmptyShard: a shard with no host is no error; it says so and still
// saves a result, which merge needs.
func TestEmptyShard(t *testing.T) {
	inv := fleetInventory(t, "alpha")
	other := (shard.Of("alpha", 2) + 1) % 2
	out := t.TempDir()
	code, stdout, stderr := everywhere(context.Background(), "exec", "-i", inv, "--shard", fmt.Sprintf("%d/2", other), "--no-progress", "-o", out, "--", "uname -m")
	if code != result.ExitOK || !strings.Contains(stderr, fmt.Sprintf("shard %d/2 has none of the selected hosts: nothing to run", other)) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	res, err := result.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || len(res.Hosts) != 0 || res.Shard == nil || res.Shard.Index != other {
		t.Fatalf("%v: %+v", err, res)
	}
}

func TestShardUsageErrors(t *testing.T) {
	for _, v := range []string{"JOB_COMPLETION_INDEX", "EVERYWHERE_SHARDS", "CI_NODE_INDEX", "CI_NODE_TOTAL"} {
		t.Setenv(v, "")
	}
	none := filepath.Join(t.TempDir(), "none.yaml") // never read: the flag is refused first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-i", none, "--shard", "2/2"}, `invalid argument "2/2" for "--shard" flag: index 2 of 2 shards: indexes run from 0 to 1`},
		{[]string{"exec", "-i", none, "--shard", "1", "--", "true"}, `invalid argument "1" for "--shard" flag: give "I/N"`},
		{[]string{"run", "-i", none, "--shard", "0/0"}, "at least 1 shard"},
		{[]string{"run", "-i", none, "--shard", "auto"}, "none of JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or CI_NODE_INDEX (GitLab parallel) is set"},
		{[]string{"report", "merge"}, "requires at least 1 arg"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := everywhere(context.Background(), tc.args...)
			if code != result.ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
