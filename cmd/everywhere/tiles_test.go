package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/sshtest"
)

// The live panes and the console, tested as a user meets them: the real
// binary in a real terminal (tmux, on a private server of the test's own),
// keys sent with send-keys, the screen read with capture-pane.

// tmux is a tmux server of the test's own, holding one session.
type tmux struct {
	t      *testing.T
	socket string
}

// requireTmux skips where tmux is not installed, except under CI.
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("tmux missing under CI: scripts/install-deps installs it")
	}
	t.Skip("tmux not installed (apt-get install tmux)")
}

// startTmux runs script (sh) in a new 200×50 terminal; the server is
// killed at the end of the test.
func startTmux(t *testing.T, script string) *tmux {
	t.Helper()
	requireTmux(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tm := &tmux{t: t, socket: "everywhere-test-" + hex.EncodeToString(b)}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	cmd := exec.Command("tmux", "-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "-s", "t", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return tm
}

// screen is what the terminal shows now.
func (tm *tmux) screen() string {
	out, err := exec.Command("tmux", "-L", tm.socket, "capture-pane", "-p", "-t", "t").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func (tm *tmux) keys(keys ...string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", tm.socket, "send-keys", "-t", "t"}, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// waitScreen polls the screen until ok holds, generously: the machine may
// be loaded.
func (tm *tmux) waitScreen(what string, ok func(screen string) bool) string {
	tm.t.Helper()
	var s string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = tm.screen(); ok(s) {
			return s
		}
	}
	tm.t.Fatalf("the screen never showed %s; it shows:\n%s", what, s)
	return ""
}

// waitFile waits for a file and returns its content.
func waitFile(t *testing.T, file string) string {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if data, err := os.ReadFile(file); err == nil && len(data) > 0 {
			return string(data)
		}
	}
	t.Fatalf("%s: not written within 90s", file)
	return ""
}

// sixArchs are the lab's hosts, each name an sshd of its own on loopback,
// each declaring another architecture (nothing here checks it).
var sixArchs = []struct{ name, arch string }{
	{"armhf", "armhf"}, {"arm64", "arm64"}, {"i386", "i686"}, {"amd64", "amd64"}, {"ppc64el", "ppc64el"}, {"s390x", "s390x"},
}

// sixHostInventory starts an sshd per host and writes their inventory;
// ports are the sshds', by host name.
func sixHostInventory(t *testing.T, dir string) (file string, ports map[string]int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("defaults: {connect_timeout: 20s}\nhosts:\n")
	ports = map[string]int{}
	for _, h := range sixArchs {
		sshd := sshtest.StartOpenSSH(t)
		ports[h.name] = sshd.Port
		fmt.Fprintf(&b, "  - {name: %s, arch: %s, address: %s, port: %d, user: %s, identity: %s, known_hosts: %s}\n",
			h.name, h.arch, sshd.Host, sshd.Port, sshd.User, sshd.IdentityFile, sshd.KnownHostsFile)
	}
	file = filepath.Join(dir, "inventory.yaml")
	writeFile(t, file, b.String())
	return file, ports
}

// panes reads a screen of tiles: each host's pane's lines, found under its
// title bar (" NAME (ARCH) ·") in its column.
func panes(screen string) map[string]string {
	out := map[string]string{}
	var current []string
	for _, l := range strings.Split(screen, "\n") {
		cells := strings.Split(l, "│")
		if len(current) < len(cells) {
			current = append(current, make([]string, len(cells)-len(current))...)
		}
		for c, cell := range cells {
			for _, h := range sixArchs {
				if strings.HasPrefix(strings.TrimPrefix(cell, " ≠"), " "+h.name+" ("+h.arch+")") {
					current[c] = h.name
				}
			}
			if current[c] != "" {
				out[current[c]] += cell + "\n"
			}
		}
	}
	return out
}

// shellScript is the line tmux runs: everywhere with args, its report and
// exit code saved in dir.
func shellScript(dir, bin string, args ...string) string {
	quoted := host.ShellQuote(append([]string{bin}, args...))
	return fmt.Sprintf("cd %s && XDG_STATE_HOME=%s/state %s >report.txt; echo $? >code.txt; sleep 600", dir, dir, quoted)
}

// TestTilesStreamLiveOutput: six panes, each with its host's name and arch,
// show a line of a command that prints one a second while it still runs,
// with no escape sequence of the host's reaching the terminal; the panes
// stay until a key; the report follows; the recording is asciicast v2.
func TestTilesStreamLiveOutput(t *testing.T) {
	bin := built(t)
	dir := t.TempDir()
	inv, ports := sixHostInventory(t, dir)
	// Each host's last line leaves a file named after its sshd's port.
	command := `printf 'evil \033[2J\033]0;pwned\007 done\n'; for i in 1 2 3 4 5 6 7 8; do echo "tick-$i"; if [ $i = 8 ]; then touch ` + dir + `/last-${SSH_CONNECTION##* }; fi; sleep 1; done`
	cast := filepath.Join(dir, "screen.cast")
	tm := startTmux(t, shellScript(dir, bin, "exec", "-i", inv, "--tiles", "--record", cast, "--color", "never", "--", command))
	early := map[string]bool{}
	s := tm.waitScreen("tick-2 in every host's pane", func(s string) bool {
		for name, text := range panes(s) {
			if !early[name] && strings.Contains(text, "tick-2") {
				_, err := os.Stat(filepath.Join(dir, fmt.Sprintf("last-%d", ports[name])))
				early[name] = os.IsNotExist(err)
				if !early[name] {
					t.Errorf("%s: its last line was printed before its second was on screen", name)
					early[name] = true // said once
				}
			}
		}
		return len(early) == len(sixArchs)
	})
	for _, h := range sixArchs {
		if !strings.Contains(s, " "+h.name+" ("+h.arch+")") {
			t.Errorf("no pane titled %s (%s):\n%s", h.name, h.arch, s)
		}
	}
	if !strings.Contains(s, "evil ␛[2J␛]0;pwned␇ done") {
		t.Errorf("the host's escape sequences are not shown neutralised:\n%s", s)
	}
	t.Logf("while running:\n%s", s)
	s = tm.waitScreen("the end of the run", func(s string) bool { return strings.Contains(s, "press any key") })
	if strings.Count(s, "✔ ok") < len(sixArchs) {
		t.Errorf("not every pane says ok at the end:\n%s", s)
	}
	// A taller, narrower terminal: the six panes re-tile 2×3.
	if out, err := exec.Command("tmux", "-L", tm.socket, "resize-window", "-t", "t", "-x", "120", "-y", "60").CombinedOutput(); err != nil {
		t.Fatalf("tmux resize-window: %v: %s", err, out)
	}
	tm.waitScreen("panes tiled 2×3", func(s string) bool {
		rows := 0
		for _, l := range strings.Split(s, "\n") {
			if strings.Count(l, "✔ ok") == 2 && strings.Count(l, "│") == 1 {
				rows++
			}
		}
		return rows == 3
	})
	tm.keys("q")
	if code := strings.TrimSpace(waitFile(t, filepath.Join(dir, "code.txt"))); code != "0" {
		t.Fatalf("exit %s\n%s", code, tm.screen())
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
	if !strings.Contains(string(report), "6 hosts: 6 ok") {
		t.Errorf("no report after the panes:\n%s", report)
	}
	if drawn := checkCast(t, tm, cast, 200, 50, "tick-8"); strings.Contains(drawn, "\x1b]0;pwned") || !strings.Contains(drawn, "␛]0;pwned") {
		t.Error("a host's escape sequence reached the terminal, or its neutralised form was not drawn")
	}
}

// checkCast parses an asciicast v2 recording of a w×h terminal in which
// want was drawn, has asciinema read it too, and returns what was drawn.
func checkCast(t *testing.T, tm *tmux, file string, w, h int, want string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	if !sc.Scan() {
		t.Fatal("empty recording")
		return ""
	}
	var hdr struct {
		Version, Width, Height int
		Timestamp              int64
	}
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil || hdr.Version != 2 || hdr.Width != w || hdr.Height != h || hdr.Timestamp == 0 {
		t.Fatalf("header %s: %+v %v", sc.Bytes(), hdr, err)
	}
	var drawn strings.Builder
	last, events := 0.0, 0
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event line %s: %v", sc.Bytes(), err)
		}
		at, ok1 := ev[0].(float64)
		kind, ok2 := ev[1].(string)
		text, ok3 := ev[2].(string)
		if !ok1 || !ok2 || !ok3 || at < last || (kind != "o" && kind != "r") {
			t.Fatalf("event %s: want [time, \"o\", data] in time order", sc.Bytes())
		}
		last = at
		events++
		if kind == "o" {
			drawn.WriteString(text)
		}
	}
	if events == 0 || !strings.Contains(drawn.String(), want) {
		t.Errorf("%d events; %q drawn: %v", events, want, strings.Contains(drawn.String(), want))
	}
	// asciinema itself, where installed, reads it back (on a terminal:
	// it insists on one).
	if _, err := exec.LookPath("asciinema"); err == nil {
		dir := t.TempDir()
		script := fmt.Sprintf("asciinema cat %s >%s/out 2>%s/err; echo $? >%s/rc", file, dir, dir, dir)
		if out, err := exec.Command("tmux", "-L", tm.socket, "new-window", "-d", "sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("tmux new-window: %v: %s", err, out)
		}
		rc := strings.TrimSpace(waitFile(t, filepath.Join(dir, "rc")))
		out, _ := os.ReadFile(filepath.Join(dir, "out"))
		errs, _ := os.ReadFile(filepath.Join(dir, "err"))
		if rc != "0" || !strings.Contains(string(out), want) {
			t.Errorf("asciinema cat %s: exit %s, %d bytes, %q in them: %v; %s", file, rc, len(out), want, strings.Contains(string(out), want), errs)
		}
	}
	return drawn.String()
}

// TestTilesCtrlC: Ctrl-C typed into the panes is Ctrl-C: the command is
// stopped on every host (nothing of it left running), cleanup runs, the
// panes stay for a key, the report says interrupted, exit 3.
func TestTilesCtrlC(t *testing.T) {
	bin := built(t)
	dir := t.TempDir()
	inv, _ := sixHostInventory(t, dir)
	plan := filepath.Join(dir, "plan.yaml")
	writeFile(t, plan, strings.ReplaceAll(`name: forever
steps:
  - {name: loop, shell: 'touch DIR/started-$$; while :; do echo "alive-$$"; sleep 1; done'}
  - {name: after, shell: 'echo never'}
cleanup:
  - {name: tidy, shell: 'touch DIR/cleaned-$$; echo tidied'}
`, "DIR", dir))
	tm := startTmux(t, shellScript(dir, bin, "run", "-i", inv, "-p", plan, "--tiles", "-o", filepath.Join(dir, "out")))
	tm.waitScreen("every host looping", func(s string) bool { return strings.Count(s, "alive-") >= 2*len(sixArchs) })
	tm.keys("C-c")
	s := tm.waitScreen("the end of the run", func(s string) bool { return strings.Contains(s, "press any key") })
	if strings.Count(s, "tidied") != len(sixArchs) {
		t.Errorf("cleanup did not show in every pane:\n%s", s)
	}
	t.Logf("after Ctrl-C:\n%s", s)
	tm.keys("Enter")
	if code := strings.TrimSpace(waitFile(t, filepath.Join(dir, "code.txt"))); code != "3" {
		t.Fatalf("exit %s, want 3\n%s", code, tm.screen())
	}
	if cleaned, _ := filepath.Glob(filepath.Join(dir, "cleaned-*")); len(cleaned) != len(sixArchs) {
		t.Errorf("cleanup ran on %d hosts, want %d", len(cleaned), len(sixArchs))
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
	if !strings.Contains(string(report), "interrupted") {
		t.Errorf("the report does not say interrupted:\n%s", report)
	}
	// The loop writes a line a second: once its session is gone it cannot
	// run on (as root, OpenSSH refuses the SIGKILL request: the closed
	// channel ends it).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		left := processesMentioning(dir + "/started-")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote commands still running after the run: pids %v", left)
		}
	}
}

// processesMentioning lists the pids whose command line holds s.
func processesMentioning(s string) []string {
	var pids []string
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(s)) {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// TestConsole: connect once, two commands answered in the panes, a :hosts
// change between them, :save, history kept, :quit; the recording parses.
func TestConsole(t *testing.T) {
	bin := built(t)
	dir := t.TempDir()
	inv, _ := sixHostInventory(t, dir)
	cast := filepath.Join(dir, "console.cast")
	tm := startTmux(t, shellScript(dir, bin, "console", "-i", inv, "--record", cast))
	tm.waitScreen("six connected panes and the prompt", func(s string) bool {
		return strings.Count(s, "✔ ok") == len(sixArchs) && strings.Contains(s, "everywhere>")
	})
	tm.keys("echo one-$((40+2)); sleep 1; echo one-$((50+5))", "Enter")
	s := tm.waitScreen("the first command's answer in six panes", func(s string) bool {
		return strings.Count(s, "one-55") == len(sixArchs) && strings.Count(s, "✔ ok") == len(sixArchs)
	})
	if strings.Count(s, "one-42") != len(sixArchs) {
		t.Errorf("not six answers:\n%s", s)
	}
	tm.keys(":hosts arm64,s390x", "Enter")
	tm.waitScreen("two panes", func(s string) bool { return strings.Contains(s, "2 hosts selected") })
	tm.keys("echo two-$((40+3))", "Enter")
	s = tm.waitScreen("the second command's answer in two panes", func(s string) bool {
		return strings.Count(s, "two-43") == 2 && strings.Count(s, "✔ ok") == 2
	})
	for _, h := range sixArchs {
		if shown := strings.Contains(s, " "+h.name+" ("+h.arch+")"); shown != (h.name == "arm64" || h.name == "s390x") {
			t.Errorf("pane of %s shown: %v\n%s", h.name, shown, s)
		}
	}
	saved := filepath.Join(dir, "saved")
	tm.keys(":save "+saved, "Enter")
	tm.waitScreen("saved", func(s string) bool { return strings.Contains(s, "saved "+saved) })
	data, err := os.ReadFile(filepath.Join(saved, "result.json"))
	if err != nil || !strings.Contains(string(data), `"two-43\n"`) || strings.Contains(string(data), `"armhf"`) {
		t.Errorf("saved result (%v):\n%s", err, data)
	}
	tm.keys("Up", "Up")
	tm.waitScreen("the history", func(s string) bool { return strings.Contains(s, "everywhere> echo two-$((40+3))") })
	tm.keys("C-u", ":quit", "Enter")
	if code := strings.TrimSpace(waitFile(t, filepath.Join(dir, "code.txt"))); code != "0" {
		t.Fatalf("exit %s\n%s", code, tm.screen())
	}
	history, _ := os.ReadFile(filepath.Join(dir, "state", "everywhere", "console_history"))
	if want := "echo two-$((40+3))\n:save " + saved + "\n:quit\n"; !strings.HasSuffix(string(history), want) {
		t.Errorf("history file:\n%s\nwant it to end with:\n%s", history, want)
	}
	checkCast(t, tm, cast, 200, 50, "two-43")
}

// Without a terminal, --tiles says so in one line and shows the usual
// progress; --record and --tiles-exit without --tiles are usage errors.
func TestTilesWithoutTerminal(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	inv := openSSHInventory(t, sshd, "one", "two")
	code, stdout, stderr := everywhere(t.Context(), "exec", "-i", inv, "--tiles", "--", "echo", "hi")
	if code != 0 || !strings.Contains(stdout, "2 hosts: 2 ok") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if first, _, _ := strings.Cut(stderr, "\n"); first != "everywhere: --tiles needs a terminal on stderr; showing the usual progress" {
		t.Errorf("stderr:\n%s", stderr)
	}
	for _, args := range [][]string{{"--record", "x.cast"}, {"--tiles-exit"}} {
		code, _, stderr := everywhere(t.Context(), append(append([]string{"exec", "-i", inv}, args...), "--", "true")...)
		if code != 2 || !strings.Contains(stderr, "go with --tiles") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := everywhere(t.Context(), "console", "-i", inv); code != 2 || !strings.Contains(stderr, "console needs a terminal") {
		t.Errorf("console without a terminal: exit %d: %s", code, stderr)
	}
}
