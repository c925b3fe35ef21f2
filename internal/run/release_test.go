package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/sshtest"
)

// openSSHHost is a host of this machine's architecture reached through a
// real sshd of the test's own.
func openSSHHost(t *testing.T, name string) inventory.Host {
	t.Helper()
	sshd := sshtest.StartOpenSSH(t)
	arch, err := host.ParseArch(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	return inventory.Host{Name: name, Arch: arch, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 5 * time.Second}
}

// A step that fails once and passes on its retry is flaky: a status of its
// own, ok for the exit code unless flaky is strict; one that fails every
// try stays failed, every try kept.
func TestRetriesMakeFlaky(t *testing.T) {
	h := openSSHHost(t, "real")
	marker := filepath.Join(t.TempDir(), "failed-once")
	p := mustPlan(t, fmt.Sprintf(`
steps:
  - {name: once, shell: "test -e %[1]s || { touch %[1]s; echo first >&2; exit 3; }", retries: 2}
  - {name: never, shell: "echo no >&2; exit 1"}
  - {name: fine, shell: "true"}
`, marker))
	r := runner()
	r.StepRetries = 1 // for the steps that do not say
	res := r.Run(context.Background(), []inventory.Host{h}, p)
	hr := res.Hosts[0]
	if got := statuses(hr); got != "flaky failed ok" {
		t.Fatalf("statuses %q, want flaky failed ok: %+v", got, hr)
	}
	once, never := hr.Steps[0], hr.Steps[1]
	if len(once.Tries) != 1 || once.Tries[0].Status != result.Failed || *once.Tries[0].ExitCode != 3 || once.Tries[0].Stderr != "first\n" {
		t.Errorf("the flaky step's earlier try: %+v", once.Tries)
	}
	if want := "passed on try 2 (try 1: exit status 3)"; once.Summary() != want {
		t.Errorf("summary %q, want %q", once.Summary(), want)
	}
	if len(never.Tries) != 1 || never.Status != result.Failed { // --step-retries 1: two tries
		t.Errorf("the failing step: %s, %d earlier tries", never.Status, len(never.Tries))
	}
	if hr.Status != result.Failed {
		t.Errorf("host %s, want failed", hr.Status)
	}

	// Flaky alone: exit 0, unless strict.
	onlyFlaky := mustPlan(t, fmt.Sprintf(`steps: [{name: once, shell: "test -e %[1]s.2 || { touch %[1]s.2; exit 1; }", retries: 1}]`, marker))
	res = r.Run(context.Background(), []inventory.Host{h}, onlyFlaky)
	if res.Hosts[0].Status != result.Flaky || res.ExitCode() != result.ExitOK {
		t.Errorf("flaky host: %s, exit %d; want flaky, 0", res.Hosts[0].Status, res.ExitCode())
	}
	res.StrictFlaky = true
	if res.ExitCode() != result.ExitFailed {
		t.Errorf("--strict-flaky: exit %d, want 1", res.ExitCode())
	}
}

// The facts of a real host through a real sshd: this machine's own.
func TestFactsOfOpenSSHHost(t *testing.T) {
	h := openSSHHost(t, "real")
	h.Arch = "" // detected from the facts, with no other command
	r := runner()
	r.Facts, r.OutputLimit = true, host.DefaultOutputLimit
	res := r.Run(context.Background(), []inventory.Host{h}, mustPlan(t, `steps: [{shell: "true"}]`))
	hr := res.Hosts[0]
	f := hr.Facts
	if f == nil || f.Error != "" {
		t.Fatalf("facts %+v", f)
	}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if f.Kernel != strings.TrimSpace(string(release)) || f.Emulated {
		t.Errorf("kernel %q emulated %v; want %q, native", f.Kernel, f.Emulated, strings.TrimSpace(string(release)))
	}
	if arch, _ := host.ParseArch(runtime.GOARCH); hr.Arch != string(arch) || !hr.ArchDetected {
		t.Errorf("arch %q detected %v, want %s", hr.Arch, hr.ArchDetected, arch)
	}
	if osRelease, err := os.ReadFile("/etc/os-release"); err == nil && !strings.Contains(string(osRelease), "ID="+f.Distro+"\n") {
		t.Errorf("distro %q is not this machine's:\n%s", f.Distro, osRelease)
	}
	if _, err := os.Stat("/usr/bin/dpkg-query"); err == nil && f.Packages["openssh-server"] == "" && len(f.Packages) > 0 {
		t.Logf("packages: %v", f.Packages) // which are installed varies by machine
	}
}

// factsOutput is what the facts command prints on an arm64 Debian trixie
// userland that qemu-user runs on an x86-64 kernel, with lines a host may
// send that are not facts.
const factsOutput = `kernel 6.1.0-28-amd64
machine aarch64
kernel_arch x86_64
exe /usr/libexec/qemu-binfmt/aarch64-binfmt-P
virt none
os PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
os ID=debian
os VERSION_ID="13"
os VERSION_CODENAME=trixie
pkg ii  docker.io 26.1.5+dfsg1-9+b1
pkg ii  containerd 1.7.24~ds1-6+b1
pkg un  lxd 
pkg ii  runc 1.1.15+ds1-2
engine docker 26.1.5+dfsg1
engine podman 
engine lxd unreachable
image everywhere/debian:trixie sha256:0123456789abcdef0123456789abcdef
garbage line
`

func TestParseFacts(t *testing.T) {
	f := parseFacts(factsOutput)
	want := result.Facts{Kernel: "6.1.0-28-amd64", Machine: "aarch64", KernelArch: "x86_64", Virt: "none", Distro: "debian", DistroVersion: "13", Codename: "trixie",
		Emulated: true, Emulator: "qemu-user (/usr/libexec/qemu-binfmt/aarch64-binfmt-P)",
		Packages: map[string]string{"docker.io": "26.1.5+dfsg1-9+b1", "containerd": "1.7.24~ds1-6+b1", "runc": "1.1.15+ds1-2"},
		Engines:  map[string]string{"docker": "26.1.5+dfsg1"},
		Images:   map[string]string{"everywhere/debian:trixie": "sha256:0123456789abcdef0123456789abcdef"}}
	if fmt.Sprint(*f) != fmt.Sprint(want) {
		t.Errorf("facts\n got %+v\nwant %+v", *f, want)
	}
	for _, tt := range []struct {
		exe, kernel, machine, virt, manufacturer string
		want                                     bool
	}{
		{"/bin/dash", "x86_64", "x86_64", "none", "", false},
		{"/bin/dash", "x86_64", "i686", "", "", false},                // a 64-bit kernel runs its 32-bit sibling
		{"/bin/dash", "x86_64", "s390x", "", "", true},                // binfmt with another emulator
		{"/usr/bin/qemu-i386-static", "x86_64", "i686", "", "", true}, // qemu-user, though the kernel could
		{"/bin/dash", "aarch64", "aarch64", "qemu", "", true},         // a whole machine, no KVM
		{"/bin/dash", "s390x", "s390x", "kvm", "QEMU", true},          // s390x under TCG looks like KVM but for its maker
		{"/bin/dash", "s390x", "s390x", "kvm", "IBM", false},
		{"/bin/dash", "x86_64", "x86_64", "kvm", "", false},
	} {
		if got, _ := emulation(tt.exe, tt.kernel, tt.machine, tt.virt, tt.manufacturer); got != tt.want {
			t.Errorf("emulation(%q, %q, %q, %q, %q) = %v, want %v", tt.exe, tt.kernel, tt.machine, tt.virt, tt.manufacturer, got, tt.want)
		}
	}
	inv, err := inventory.Parse("inv.yaml", []byte("hosts:\n  - {name: vm, address: h, emulated: true}\n  - {name: plain, address: h}\n"), inventory.Options{Blocks: Blocks()})
	if err != nil {
		t.Fatal(err)
	}
	declared(f, inv.Hosts[1]) // says nothing: the facts stand
	if !f.Emulated {
		t.Error("a host the inventory says nothing of lost its emulation")
	}
	native := &result.Facts{}
	declared(native, inv.Hosts[0])
	if !native.Emulated || native.Emulator != "declared in the inventory (emulated: true)" {
		t.Errorf("declared: %+v", native)
	}
}

// emulatedHost answers the facts command as an emulated host does, and
// hangs on "hang".
func emulatedHost(command string, stdout, _ io.Writer, stop <-chan struct{}) int {
	switch {
	case strings.HasPrefix(command, "sh -c "):
		io.WriteString(stdout, factsOutput)
	case command == "hang":
		<-stop
		return 137
	case command == "stop-slowly":
		select {
		case <-time.After(2 * time.Second):
		case <-stop:
			return 137
		}
	}
	return 0
}

// On a host whose facts say it is emulated, timeout_scale multiplies the
// limit, and the timeout says which limit applied; a native host keeps the
// plan's.
func TestTimeoutScaleOnEmulatedHost(t *testing.T) {
	s := sshtest.NewServer(t, emulatedHost)
	emulated := inventory.Host{Name: "arm64-emu", Arch: host.Arm64, Address: s.Host, Port: s.Port, User: "u",
		Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second}
	native := newLab(t, host.AMD64).hosts[0]
	p := mustPlan(t, "timeout: 50ms\ntimeout_scale: {emulated: 3}\nsteps: [{name: slow, shell: hang}]\n")
	r := runner()
	r.Facts = true
	res := r.Run(context.Background(), []inventory.Host{emulated, native}, p)
	emu, nat := res.Hosts[0].Steps[0], res.Hosts[1].Steps[0]
	if emu.Status != result.Timeout || emu.TimeoutMS != 150 || !strings.HasPrefix(emu.Error, "no result within 150ms (step timeout 50ms × 3: emulated host)") {
		t.Errorf("emulated: %s, limit %dms: %s", emu.Status, emu.TimeoutMS, emu.Error)
	}
	if nat.Status != result.Timeout || nat.TimeoutMS != 50 || !strings.HasPrefix(nat.Error, "no result within 50ms (step timeout)") {
		t.Errorf("native: %s, limit %dms: %s", nat.Status, nat.TimeoutMS, nat.Error)
	}
	if !res.Hosts[0].Facts.Emulated || res.Hosts[1].Facts.Emulated {
		t.Errorf("emulated: %v and %v", res.Hosts[0].Facts, res.Hosts[1].Facts)
	}
}

// The bound on a host's cleanup scales as its steps do: a cleanup that
// takes 2 s is cut at 1 s on a native host, and has 10 s on an emulated one.
func TestCleanupBoundScalesOnEmulatedHost(t *testing.T) {
	var hosts []inventory.Host
	for _, h := range []struct {
		name    string
		handler sshtest.Handler
	}{{"arm64-emu", emulatedHost}, {"arm64-native", func(command string, _, _ io.Writer, stop <-chan struct{}) int {
		if strings.HasPrefix(command, "sh -c ") {
			return 0 // nothing says it is emulated
		}
		return emulatedHost(command, io.Discard, io.Discard, stop)
	}}} {
		s := sshtest.NewServer(t, h.handler)
		hosts = append(hosts, inventory.Host{Name: h.name, Arch: host.Arm64, Address: s.Host, Port: s.Port, User: "u",
			Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second})
	}
	p := mustPlan(t, "timeout_scale: {emulated: 10}\nsteps: [{name: s, shell: true}]\ncleanup: [{name: c, shell: stop-slowly, timeout: 1m}]\n")
	r := runner()
	r.Facts, r.CleanupTimeout = true, time.Second
	res := r.Run(context.Background(), hosts, p)
	if got := statuses(res.Hosts[0]); got != "ok cleanup:ok" {
		t.Errorf("emulated: %s %+v", got, res.Hosts[0].Cleanup)
	}
	if got := statuses(res.Hosts[1]); got == "ok cleanup:ok" {
		t.Errorf("native: %s, want its cleanup cut at 1 s", got)
	}
}

// Only runs the steps it names on the hosts it names, the others skipped
// as not selected; other hosts run every step.
func TestOnlySomeSteps(t *testing.T) {
	l := newLab(t, host.Arm64, host.S390X)
	r := runner()
	r.Only = map[string][]string{l.hosts[0].Name: {"dpkg"}}
	res := r.Run(context.Background(), l.hosts, mustPlan(t, archPlan))
	if got := statuses(res.Hosts[0]); got != "skipped ok" || res.Hosts[0].Steps[0].Error != NotSelected {
		t.Errorf("host with Only: %s (%s)", got, res.Hosts[0].Steps[0].Error)
	}
	if got := statuses(res.Hosts[1]); got != "ok ok" {
		t.Errorf("host without: %s", got)
	}
}

// spanning fails, counting its runs, as a step that meets the other hosts.
type spanning struct{ runs *atomic.Int32 }

func (spanning) Command() string { return "meet" }
func (spanning) SpansHosts()     {}
func (a spanning) Run(ctx context.Context, _ driver.Target, limit int) (*host.Output, error) {
	a.runs.Add(1)
	out := host.NewOutputFor(ctx, limit)
	out.ExitCode = 1
	return out, nil
}

// --step-retries leaves alone a step that meets the other hosts: they
// would wait for it a second time.
func TestStepRetriesSkipSpanningSteps(t *testing.T) {
	l := newLab(t, host.Arm64)
	var runs atomic.Int32
	p := &plan.Plan{Name: "p", Steps: []plan.Step{{Name: "meet", Kind: "test.meet", Action: spanning{&runs}, Retries: -1}}}
	r := runner()
	r.StepRetries = 2
	res := r.Run(context.Background(), l.hosts, p)
	if runs.Load() != 1 || res.Hosts[0].Steps[0].Status != result.Failed {
		t.Errorf("ran %d times (%s), want once", runs.Load(), res.Hosts[0].Steps[0].Status)
	}
}
