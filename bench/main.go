// Command bench times everywhere against pssh, pdsh, Ansible and a bare
// x/crypto/ssh fan-out, on loopback only: a real OpenSSH sshd of its own
// (N <= 200) and a fleet simulator in a process of its own (N = 1000 to
// 20,000). Run as
// root (it creates an unprivileged user whose shell is /bin/sh):
//
//	go run ./bench -n 10,50,200 -sim 1000,5000 -runs 3 -o bench/RESULTS.md
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		// bench floor INVENTORY PARALLEL COMMAND
		parallel, _ := strconv.Atoi(os.Args[3])
		if err := floor(os.Args[2], os.Args[4], parallel); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "sim" {
		// bench sim N IDENTITY: the simulator, a process of its own (see startSim)
		n, _ := strconv.Atoi(os.Args[2])
		if err := serveSim(n, os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "sim:", err)
			os.Exit(1)
		}
		return
	}
	openssh := flag.String("n", "10,50,200", "fleet sizes against OpenSSH (at most 200)")
	sim := flag.String("sim", "1000,5000", "fleet sizes against the simulator")
	runs := flag.Int("runs", 3, "counted runs of each command")
	out := flag.String("o", "bench/RESULTS.md", "where to write the table (raw numbers go beside it, .json)")
	profile := flag.String("profile", "", "instead: one `everywhere exec` per simulator size, with a CPU profile written to this folder")
	flag.Parse()
	if *profile != "" {
		if err := profileRuns(sizes(*sim), *profile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchmark(sizes(*openssh), sizes(*sim), *runs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func sizes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// measurement is one command's runs.
type measurement struct {
	Target  string    `json:"target"`
	N       int       `json:"n"`
	Tool    string    `json:"tool"`
	Wall    []float64 `json:"wall_s"`
	CPU     []float64 `json:"cpu_s"` // user+sys of the process and its waited children
	MaxRSS  []int64   `json:"max_rss_kib"`
	Failure string    `json:"failure,omitempty"`
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// measure runs argv runs times (after one warm-up) and records each run's
// wall time, CPU time and peak RSS as the kernel accounted them. A run
// counts only when its output shows success on every host: want must occur
// (at least) m.N times in it.
//
// Linux starts a child's peak RSS at its parent's when the child is
// started as Go starts it (vfork, then exec: the parent's memory is the
// child's until exec), so the harness keeps its own memory small: the
// simulator runs in a process of its own, and of a tool's output only the
// count of want and a tail are kept.
func measure(m *measurement, runs int, want string, env []string, argv ...string) {
	for i := 0; i <= runs; i++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), env...)
		stdout, stderr := &tally{want: []byte(want)}, &tally{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start).Seconds()
		if err == nil && stdout.count < m.N {
			err = fmt.Errorf("%d of %d hosts answered", stdout.count, m.N)
		}
		if err != nil {
			// What the tool said on stderr tells why; stdout is its results.
			why := lastLine(string(stderr.tail))
			if why == "" {
				why = lastLine(string(stdout.tail))
			}
			m.Failure = fmt.Sprintf("%v: %s", err, why)
			return
		}
		if i == 0 {
			continue // warm-up
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		m.Wall, m.CPU, m.MaxRSS = append(m.Wall, wall), append(m.CPU, cpu), append(m.MaxRSS, ru.Maxrss)
	}
}

// tally counts want in what is written to it and keeps the last tailSize
// bytes, for messages.
type tally struct {
	want  []byte
	count int
	carry []byte // the last len(want)-1 bytes: a want may straddle writes
	tail  []byte
}

const tailSize = 4096

func (t *tally) Write(p []byte) (int, error) {
	if len(t.want) > 0 {
		buf := append(slices.Clone(t.carry), p...)
		t.count += bytes.Count(buf, t.want)
		t.carry = slices.Clone(buf[max(0, len(buf)-len(t.want)+1):])
	}
	t.tail = append(t.tail, p...)
	if len(t.tail) > 2*tailSize {
		t.tail = slices.Clone(t.tail[len(t.tail)-tailSize:])
	}
	return len(p), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func benchmark(opensshSizes, simSizes []int, runs int, out string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: the benchmark creates a user and starts sshd")
	}
	dir, err := os.MkdirTemp("", "everywhere-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	everywhere := filepath.Join(dir, "everywhere")
	if b, err := exec.Command("go", "build", "-o", everywhere, "./cmd/everywhere").CombinedOutput(); err != nil {
		return fmt.Errorf("building everywhere: %v: %s", err, b)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	keys, err := newKeys(dir)
	if err != nil {
		return err
	}
	var results []*measurement
	if len(opensshSizes) > 0 {
		sshd, err := startSSHD(dir, keys, slices.Max(opensshSizes))
		if err != nil {
			return err
		}
		defer sshd.stop()
		for _, n := range opensshSizes {
			f, err := writeFleet(dir, fmt.Sprintf("openssh-%d", n), n, sshd.port, benchUser, keys, sshd.hostKey)
			if err != nil {
				return err
			}
			results = append(results, runTools(f, "OpenSSH", n, runs, everywhere, self, true)...)
		}
	}
	for _, n := range simSizes {
		sim, err := startSim(self, n, keys.identityFile)
		if err != nil {
			return fmt.Errorf("simulator of %d hosts: %w", n, err)
		}
		f, err := writeFleet(dir, fmt.Sprintf("sim-%d", n), n, 2222, "sim", keys, sim.hostKey)
		if err != nil {
			sim.stop()
			return err
		}
		results = append(results, runTools(f, "simulator", n, runs, everywhere, self, n <= 1000)...)
		if err := sim.stop(); err != nil {
			return fmt.Errorf("simulator of %d hosts: %w", n, err)
		}
	}
	var harness syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &harness)
	return report(results, out, harness.Maxrss)
}

// profileRuns runs everywhere exec and the 3-step plan once per simulator
// size with --cpuprofile and --memprofile, for `go tool pprof`.
func profileRuns(simSizes []int, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "everywhere-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	everywhere := filepath.Join(work, "everywhere")
	if b, err := exec.Command("go", "build", "-o", everywhere, "./cmd/everywhere").CombinedOutput(); err != nil {
		return fmt.Errorf("building everywhere: %v: %s", err, b)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	k, err := newKeys(work)
	if err != nil {
		return err
	}
	for _, n := range simSizes {
		sim, err := startSim(self, n, k.identityFile)
		if err != nil {
			return err
		}
		f, err := writeFleet(work, fmt.Sprintf("sim-%d", n), n, 2222, "sim", k, sim.hostKey)
		if err != nil {
			sim.stop()
			return err
		}
		for _, c := range []struct {
			name string
			args []string
		}{
			{"exec", []string{"exec", "-i", f.inventory, "--", "uname -a"}},
			{"plan3", []string{"run", "-i", f.inventory, "-p", f.plan}},
		} {
			base := filepath.Join(dir, fmt.Sprintf("everywhere-%s-%d", c.name, n))
			// Flags right after the command's name: exec's own end at "--".
			args := append([]string{c.args[0], "--parallel", strconv.Itoa(n), "--no-progress", "--format", "json", "--cpuprofile", base + ".pprof", "--memprofile", base + ".heap"}, c.args[1:]...)
			cmd := exec.Command(everywhere, args...)
			start := time.Now()
			out, runErr := cmd.CombinedOutput()
			if runErr != nil {
				err = fmt.Errorf("%v: %s", runErr, lastLine(string(out)))
				break
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			fmt.Fprintf(os.Stderr, "N=%d %s: %.2fs, CPU %.2f ms/host, peak RSS %d MiB (%.1f KiB/host), profiles %s.{pprof,heap}\n", n, c.name, time.Since(start).Seconds(),
				float64(ru.Utime.Nano()+ru.Stime.Nano())/1e6/float64(n), ru.Maxrss/1024, float64(ru.Maxrss)/float64(n), base)
		}
		if stopErr := sim.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// runTools measures every tool on one fleet; others (pssh, pdsh, Ansible)
// only where asked.
func runTools(f *fleet, target string, n, runs int, everywhere, self string, others bool) []*measurement {
	var ms []*measurement
	add := func(tool, want string, env []string, argv ...string) {
		m := &measurement{Target: target, N: n, Tool: tool}
		fmt.Fprintf(os.Stderr, "%s N=%d %s…\n", target, n, tool)
		measure(m, runs, want, env, argv...)
		ms = append(ms, m)
	}
	par := strconv.Itoa(n)
	const everywhereOK = `"status": "ok"`
	add("everywhere exec", everywhereOK, nil, everywhere, "exec", "-i", f.inventory, "--parallel", par, "--no-progress", "--format", "json", "--", "uname -a")
	add("bare Go fan-out", "Linux ", nil, self, "floor", f.inventory, par, "uname -a")
	add("everywhere 3-step plan", everywhereOK, nil, everywhere, "run", "-i", f.inventory, "-p", f.plan, "--parallel", par, "--no-progress", "--format", "json")
	if !others {
		return ms
	}
	add("pssh", "[SUCCESS]", nil, "parallel-ssh", "-h", f.psshHosts, "-p", par, "-t", "120", "-l", f.user, "-x", f.sshArgs, "uname -a")
	add("3 × pssh (3 steps)", "[SUCCESS]", nil, "sh", "-c", fmt.Sprintf(`for c in "uname -a" "uname -m" "cat /etc/os-release"; do parallel-ssh -h %s -p %s -t 120 -l %s -x "%s" "$c" || exit 1; done`, f.psshHosts, par, f.user, f.sshArgs))
	add("pdsh -R ssh", "Linux ", []string{"PDSH_SSH_ARGS=" + f.sshArgs + " -l %u %h"}, "pdsh", "-R", "ssh", "-f", par, "-l", f.user, "-w", "^"+f.pdshHosts, "uname -a")
	add("ansible -m raw", "| CHANGED", []string{"ANSIBLE_HOST_KEY_CHECKING=True", "ANSIBLE_SSH_ARGS=-o UserKnownHostsFile=" + f.knownHosts, "ANSIBLE_LOCAL_TEMP=" + f.dir, "ANSIBLE_HOME=" + f.dir},
		"ansible", "all", "-i", f.ansibleInventory, "-m", "raw", "-a", "uname -a", "-f", par)
	return ms
}

// report writes the table; harnessRSS (KiB) is the harness's own peak,
// the least any tool's peak can be (see measure).
func report(results []*measurement, out string, harnessRSS int64) error {
	raw, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(strings.TrimSuffix(out, ".md")+".json", raw, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	fmt.Fprintf(&b, "# Benchmark\n\n%s, %d cores (%s), %s, %s. Each figure: the median of the counted runs (min–max in brackets), after one warm-up run. CPU is user+sys of the tool's process and the processes it waited for (ssh clients included); peak RSS is the largest single process (wait4's ru_maxrss, which Linux starts at the harness's own peak, %d MiB here: the simulator runs in a process of its own).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpu, runtime.GOOS+"/"+runtime.GOARCH, host, harnessRSS/1024)
	b.WriteString("| target | N | tool | wall s | × everywhere | × floor | CPU ms/host | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n")
	find := func(target string, n int, tool string) *measurement {
		for _, m := range results {
			if m.Target == target && m.N == n && m.Tool == tool && m.Failure == "" {
				return m
			}
		}
		return nil
	}
	for _, m := range results {
		if m.Failure != "" {
			fmt.Fprintf(&b, "| %s | %d | %s | failed: %s | | | | |\n", m.Target, m.N, m.Tool, m.Failure)
			continue
		}
		ew, fl := find(m.Target, m.N, "everywhere exec"), find(m.Target, m.N, "bare Go fan-out")
		if strings.Contains(m.Tool, "3") {
			ew = find(m.Target, m.N, "everywhere 3-step plan")
		}
		ratio := func(base *measurement) string {
			if base == nil {
				return ""
			}
			return fmt.Sprintf("%.2f", median(m.Wall)/median(base.Wall))
		}
		wall := fmt.Sprintf("%.2f (%.2f–%.2f)", median(m.Wall), slices.Min(m.Wall), slices.Max(m.Wall))
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %.2f | %.0f |\n", m.Target, m.N, m.Tool, wall, ratio(ew), ratio(fl),
			median(m.CPU)*1000/float64(m.N), float64(slices.Max(m.MaxRSS))/1024)
	}
	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
