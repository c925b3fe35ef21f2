package diff

import (
	"bytes"
	"context"
	"everywhere/internal/drivers"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// suiteHost answers as a Debian host of suite and arch would: the facts
// command with what Debian bookworm and trixie ship, the plan's steps
// with their output. amd64 runs natively; arm64 under qemu-user.
func suiteHost(suite string, a host.Arch) sshtest.Handler {
	v := map[string]struct{ version, kernel, docker, containerd, runc, image string }{
		"bookworm": {"12", "6.1.0-28", "20.10.24+dfsg1-1+deb12u1+b6", "1.6.20~ds1-1+deb12u3", "1.1.5+ds1-1+deb12u1", "sha256:9b1c3f2e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"},
		"trixie":   {"13", "6.12.57", "26.1.5+dfsg1-9+b9", "1.7.24~ds1-6+b4", "1.1.15+ds1-2+b4", "sha256:4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"},
	}[suite]
	kernel := v.kernel + "-" + a.Debian()
	exe := "/usr/bin/dash"
	if a != host.AMD64 {
		kernel = v.kernel + "-amd64" // qemu-user: the machine's kernel
		exe = "/usr/libexec/qemu-binfmt/" + a.Kernel() + "-binfmt-P"
	}
	facts := fmt.Sprintf(`kernel %s
machine %s
kernel_arch x86_64
exe %s
os ID=debian
os VERSION_ID="%s"
os VERSION_CODENAME=%s
pkg ii  docker.io %s
pkg ii  containerd %s
pkg ii  runc %s
engine docker %s
image everywhere/debian:%s %s
`, kernel, a.Kernel(), exe, v.version, suite, v.docker, v.containerd, v.runc, strings.Split(v.docker, "-")[0], suite, v.image)
	return func(command string, stdout, _ io.Writer, _ <-chan struct{}) int {
		switch {
		case strings.HasPrefix(command, "sh -c "):
			io.WriteString(stdout, facts)
		case command == "uname -m":
			fmt.Fprintln(stdout, a.Kernel())
		case strings.HasPrefix(command, "dpkg-query"):
			fmt.Fprintf(stdout, "containerd %s\ndocker.io %s\nrunc %s\n", v.containerd, v.docker, v.runc)
		case command == "docker-apt":
			if suite == "trixie" && a == host.Arm64 {
				fmt.Fprintln(stdout, "E: Sub-process /usr/bin/dpkg received a segmentation fault.")
				return 100
			}
			fmt.Fprintln(stdout, "Setting up net-tools")
		}
		return 0
	}
}

// TestDiffSuitesRealRuns runs one plan on a bookworm "lab" and a trixie
// one (hosts named ARCH-SUITE, answering as those releases do) through the
// runner, saves both results, reads them back and diffs them: the hosts
// pair by arch unasked, and what moved underneath shows per architecture.
// Its golden file is the example in docs/how-to/release-smoke-test.md.
func TestDiffSuitesRealRuns(t *testing.T) {
	p, err := plan.Parse("release.yaml", []byte(`
name: release
steps:
  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}
  - {name: packages, shell: "dpkg-query -W -f '${Package} ${Version}\\n' docker.io containerd runc"}
  - {name: docker-apt, shell: docker-apt}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runSuite := func(suite string, day int) *result.Result {
		var hosts []inventory.Host
		for _, a := range []host.Arch{host.AMD64, host.Arm64} {
			s := sshtest.NewServer(t, suiteHost(suite, a))
			hosts = append(hosts, inventory.Host{Name: string(a) + "-" + suite, Arch: a, Address: s.Host, Port: s.Port, User: "u",
				Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 5 * time.Second})
		}
		r := &run.Runner{RunID: fmt.Sprintf("202612%02d-020000-5eed%04d", day, day), Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), Parallel: 2,
			OutputLimit: host.DefaultOutputLimit, Facts: true}
		res := r.Run(context.Background(), hosts, p)
		res.Started = time.Date(2026, 12, day, 2, 0, 0, 0, time.UTC) // the golden file's own
		file := filepath.Join(dir, suite+".json")
		if err := res.WriteFile(file); err != nil {
			t.Fatal(err)
		}
		back, err := result.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	old, new := runSuite("bookworm", 6), runSuite("trixie", 7)
	d, err := Compare(old, new, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Old.File, d.New.File = "bookworm/result.json", "trixie/result.json"
	for _, f := range []string{"side", "md"} {
		var buf bytes.Buffer
		if err := Render(&buf, f, d); err != nil {
			t.Fatal(err)
		}
		golden(t, "diff-suites-real."+f+".golden", buf.Bytes())
	}
	if d.Match != "arch" || d.ExitCode() != result.ExitFailed || len(d.Underneath) != 2 {
		t.Errorf("match %s, exit %d, underneath %+v", d.Match, d.ExitCode(), d.Underneath)
	}
}
