package labkit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/text"
)

// Flavour is a kind of rootfs the lab builds: Debian's minbase plus packages
// and mmdebstrap customize hooks.
type Flavour struct {
	Suffix         string
	Packages       []string
	EssentialHooks []string // run once the Essential set is unpacked, before the rest is configured
	Hooks          []string // customize hooks, run at the end
}

// dockerPackages is Docker as apt installs it by default (an apt pattern,
// which mmdebstrap passes on): docker.io, and from trixie on docker-cli,
// which docker.io only recommends and minbase would leave out (trixie's
// hosts then had an engine but no docker command). Suites without a
// docker-cli package get docker.io alone.
const DockerPackages = "?exact-name(docker.io)|?exact-name(docker-cli)"

// qemuNames are qemu-user's names of the foreign architectures.
var qemuNames = map[host.Arch]string{
	host.ArmHF: "arm", host.Arm64: "aarch64", host.I686: "i386", host.AMD64: "x86_64", host.PPC64EL: "ppc64le", host.S390X: "s390x",
}

// MissingPrograms lists, sorted, those of programs (and of the qemu-user
// binaries c's foreign architectures need) not on PATH, each with the
// Debian package that brings it.
func MissingPrograms(c Config, programs map[string]string) []string {
	for _, a := range c.Archs {
		if !IsNative(a) {
			programs["qemu-"+qemuNames[a]+"-static"] = "qemu-user-static"
		}
	}
	var missing []string
	for program, pkg := range programs {
		if _, err := exec.LookPath(program); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", program, pkg))
		}
	}
	slices.Sort(missing)
	return missing
}

// IsNative says whether a is this machine's own architecture.
func IsNative(a host.Arch) bool {
	native, err := host.ParseArch(runtime.GOARCH)
	return err == nil && native == a
}

// EnsureEmulation makes every lab architecture runnable here: binfmt_misc
// mounted and qemu-user's handlers enabled. i386 runs natively on most
// x86-64 kernels; where it does not, Debian registers no qemu-i386 on amd64,
// so the lab registers it itself.
func EnsureEmulation(ctx context.Context, c Config) error {
	const binfmt = "/proc/sys/fs/binfmt_misc"
	if _, err := os.Stat(binfmt + "/register"); err != nil {
		if err := Command(ctx, "mount", "-t", "binfmt_misc", "binfmt_misc", binfmt); err != nil {
			return fmt.Errorf("mounting binfmt_misc: %w", err)
		}
	}
	for _, a := range c.Archs {
		if archRuns(ctx, a) {
			continue
		}
		// update-binfmts registers a handler that qemu-user-static's install
		// could not (binfmt_misc was not mounted then).
		handler := "qemu-" + qemuNames[a]
		if err := Command(ctx, "update-binfmts", "--enable", handler); err != nil && a == host.I686 {
			reg := ":qemu-i386:M::\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00:\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-i386-static:F"
			if err := os.WriteFile(binfmt+"/register", []byte(reg), 0); err != nil {
				return fmt.Errorf("registering qemu-i386 with binfmt_misc: %w", err)
			}
		}
		if !archRuns(ctx, a) {
			return fmt.Errorf("%s code cannot run on this machine: arch-test %s fails even with qemu-user-static's binfmt handler %s enabled", a, a.Debian(), handler)
		}
		fmt.Fprintf(c.Log, "[%s] runs through qemu-user (binfmt_misc)\n", a.Debian())
	}
	return nil
}

// Emulated says whether a's code runs under qemu-user here: everything
// foreign, except i386 on an x86-64 kernel that runs it natively.
func Emulated(a host.Arch) bool {
	if IsNative(a) {
		return false
	}
	if a == host.I686 && runtime.GOARCH == "amd64" {
		state, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-i386")
		return err == nil && strings.HasPrefix(string(state), "enabled")
	}
	return true
}

func archRuns(ctx context.Context, a host.Arch) bool {
	return exec.CommandContext(ctx, "arch-test", a.Debian()).Run() == nil
}

// MirrorURL is the Debian mirror c's trees come from: the one it names, or
// else the one this machine's apt uses.
func (c Config) MirrorURL() (string, error) {
	if c.Mirror != "" {
		return c.Mirror, nil
	}
	return aptMirror()
}

// aptMirror is the Debian mirror this machine's apt already uses: the lab
// fetches from nowhere else.
func aptMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, lists...)
	for _, file := range files {
		if uri := mirrorIn(file); uri != "" {
			return uri, nil
		}
	}
	return "", errors.New("no Debian mirror in /etc/apt/sources.list*: pass --mirror URL")
}

// mirrorIn returns the first main-archive URI (not a security or updates
// one) of a one-line-style or deb822-style apt sources file.
func mirrorIn(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	deb822 := strings.HasSuffix(file, ".sources")
	var uri string
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		line := strings.TrimSpace(scan.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case deb822 && line == "":
			uri = ""
		case deb822 && len(fields) >= 2 && fields[0] == "URIs:":
			uri = fields[1]
		case deb822 && len(fields) >= 2 && fields[0] == "Suites:" && uri != "" && !strings.Contains(fields[1], "-"):
			return uri
		case !deb822 && len(fields) >= 3 && fields[0] == "deb" && !strings.Contains(fields[2], "-"):
			return fields[1]
		}
	}
	return ""
}

const RecipeFile = ".everywhere-rootfs"

// Tree names a's tree of c's suite in the log: arm64 trixie.
func (c Config) Tree(a host.Arch) string { return a.Debian() + " " + c.Suite }

// Rootfs is where c's tree of a, of flavour f, is cached.
func (c Config) Rootfs(a host.Arch, f Flavour) string {
	return filepath.Join(c.CacheDir, a.Debian()+"-"+c.Suite+f.Suffix)
}

func (f Flavour) args(a host.Arch, suite string) []string {
	args := []string{"--variant=minbase", "--include=" + strings.Join(f.Packages, ","), "--arch=" + a.Debian()}
	for _, h := range f.EssentialHooks {
		args = append(args, "--essential-hook="+h)
	}
	for _, h := range f.Hooks {
		args = append(args, "--customize-hook="+h)
	}
	return append(args, suite)
}

func (f Flavour) recipe(a host.Arch, suite string) string {
	return "mmdebstrap " + strings.Join(f.args(a, suite), " ") + "\n"
}

// Recipe is what c builds a's rootfs of flavour f from: mmdebstrap's
// arguments, and the keyring the mirror is checked with when not Debian's.
func (c Config) Recipe(a host.Arch, f Flavour) string {
	r := f.recipe(a, c.Suite)
	if c.Keyring != "" {
		r += "keyring " + c.Keyring + "\n"
	}
	return r
}

// BuildRootfs builds the architecture's rootfs into the cache unless a
// rootfs of the same recipe is there already (or Refresh asks for anew).
func BuildRootfs(ctx context.Context, c Config, a host.Arch, f Flavour, mirror string) error {
	dir := c.Rootfs(a, f)
	recipe := c.Recipe(a, f)
	if err := os.MkdirAll(c.CacheDir, 0o755); err != nil {
		return err
	}
	// Labs (and test suites) on one machine share the cache: one builds a
	// rootfs, the others wait for it and reuse it.
	unlock, err := lockFile(ctx, dir+".lock", true)
	if err != nil {
		return err
	}
	defer unlock()
	if have, err := os.ReadFile(filepath.Join(dir, RecipeFile)); err == nil && string(have) == recipe && !c.Refresh {
		fmt.Fprintf(c.Log, "[%s] rootfs cached: %s\n", c.Tree(a), dir)
		return nil
	}
	tmp := dir + ".tmp"
	logFile := dir + ".log"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	log, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(c.Log, "[%s] building rootfs with mmdebstrap from %s (log: %s)\n", c.Tree(a), mirror, logFile)
	start := time.Now()
	args := f.args(a, c.Suite)
	if c.Keyring != "" {
		args = append([]string{"--keyring=" + c.Keyring}, args...)
	}
	// --verbose (not part of the recipe) has dpkg's "Setting up" lines in
	// the log, which the progress counts.
	cmd := exec.CommandContext(ctx, "mmdebstrap", append(append([]string{"--verbose"}, args...), tmp, mirror)...)
	watch := &treeProgress{}
	cmd.Stdout = io.MultiWriter(log, watch)
	cmd.Stderr = cmd.Stdout
	stopProgress := watch.report(c.Log, c.Tree(a), start, dir, time.Minute)
	err = cmd.Run()
	stopProgress()
	if err != nil {
		return fmt.Errorf("[%s] mmdebstrap failed after %s: %w (see %s)", c.Tree(a), time.Since(start).Round(time.Second), err, logFile)
	}
	if err := os.WriteFile(filepath.Join(tmp, RecipeFile), []byte(recipe), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	took := time.Since(start).Round(time.Second)
	fmt.Fprintf(c.Log, "[%s] rootfs built in %s (%s set up)\n", c.Tree(a), took, text.Count(watch.count(), "package", "packages"))
	// The next cold build's estimates.
	_ = os.WriteFile(dir+".build-packages", []byte(strconv.Itoa(watch.count())+"\n"), 0o644)
	return os.WriteFile(dir+".build-time", []byte(took.String()+"\n"), 0o644)
}

// LastBuildTime is how long the last build of the tree in dir took, or 0
// when it is not known.
func LastBuildTime(dir string) time.Duration {
	data, err := os.ReadFile(dir + ".build-time")
	if err != nil {
		return 0
	}
	d, _ := time.ParseDuration(strings.TrimSpace(string(data)))
	return d
}

// treeProgress follows mmdebstrap's output: its phase (its "I: " lines)
// and the packages dpkg has set up.
type treeProgress struct {
	mu      sync.Mutex
	partial []byte
	phase   string
	setUp   int
}

func (t *treeProgress) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := string(t.partial[:i])
		t.partial = t.partial[i+1:]
		switch {
		case strings.HasPrefix(line, "Setting up "):
			t.setUp++
		case strings.HasPrefix(line, "I: "):
			t.phase = strings.TrimSuffix(strings.TrimPrefix(line, "I: "), "...")
		}
	}
	return len(p), nil
}

func (t *treeProgress) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.setUp
}

// report prints, every interval until stopped, where the build of tree
// is, against the last build of the same tree (its time and package count).
func (t *treeProgress) report(w io.Writer, tree string, start time.Time, dir string, every time.Duration) (stop func()) {
	lastTime := LastBuildTime(dir)
	var lastCount int
	if data, err := os.ReadFile(dir + ".build-packages"); err == nil {
		lastCount, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			t.mu.Lock()
			line := fmt.Sprintf("[%s] tree: %s, %s set up", tree, cmp.Or(t.phase, "starting"), text.Count(t.setUp, "package", "packages"))
			t.mu.Unlock()
			if lastCount > 0 {
				line += fmt.Sprintf(" of %d", lastCount)
			}
			line += ", " + time.Since(start).Round(time.Second).String()
			if lastTime > 0 {
				line += " of ~" + lastTime.String() + " last time"
			}
			fmt.Fprintln(w, line)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
