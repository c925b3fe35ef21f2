package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/plan"
)

func init() {
	plan.Register("lxd.launch", plan.DecodeAction[Launch])
	plan.Register("lxd.list", plan.DecodeAction[List])
	plan.Register("lxd.exec", plan.DecodeAction[Exec])
	plan.Register("lxd.delete", plan.DecodeAction[Delete])
}

// server is a host's LXD, shared by the host's steps within a run.
type server struct {
	*Client
	info *Server

	mu       sync.Mutex
	launched []string // instances this run launched through this host, oldest first
}

func (s *server) remember(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.launched = append(s.launched, name)
}

func (s *server) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.launched = slices.DeleteFunc(s.launched, func(n string) bool { return n == name })
}

func (s *server) instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.launched)
}

// connect returns the host's LXD, opened on first use. It also checks that
// the server can run the host's architecture: where it cannot (the built-in
// lab's LXD runs only x86_64 and i686), the step does not apply.
func connect(ctx context.Context, t plan.Conn) (*server, error) {
	v, err := t.Attach("lxd", func() (io.Closer, error) { return open(ctx, t) })
	if err != nil {
		return nil, err
	}
	s := v.(*server)
	arch := t.Host().Arch
	if !slices.Contains(s.info.Environment.Architectures, arch.Kernel()) {
		return nil, fmt.Errorf("%w: LXD at %s runs %s only, not %s (%s)", plan.ErrNotApplicable, s.Where(),
			strings.Join(s.info.Environment.Architectures, ", "), arch.Kernel(), arch)
	}
	return s, nil
}

func open(ctx context.Context, t plan.Conn) (*server, error) {
	cfg := t.Host().LXD
	if cfg.URL != "" {
		c, err := NewHTTPS(cfg)
		if err != nil {
			return nil, err
		}
		info, err := c.Server(ctx)
		if err != nil {
			return nil, fmt.Errorf("lxd at %s: %w", cfg.URL, err)
		}
		if info.Auth != "trusted" {
			return nil, fmt.Errorf("lxd at %s does not trust this client certificate (lxc config trust add)", cfg.URL)
		}
		return &server{Client: c, info: info}, nil
	}
	sockets := Sockets
	if cfg.Socket != "" {
		sockets = []string{cfg.Socket}
	}
	var errs []error
	for _, socket := range sockets {
		c := NewUnix(t.DialContext, socket)
		info, err := c.Server(ctx)
		if err == nil {
			return &server{Client: c, info: info}, nil
		}
		errs = append(errs, err)
	}
	return nil, diagnose(ctx, t, sockets, errors.Join(errs...))
}

// diagnose says why no socket answered: OpenSSH reports a missing socket and
// a forbidden one alike.
func diagnose(ctx context.Context, t plan.Conn, sockets []string, err error) error {
	probe := "for s in " + host.ShellQuote(sockets) + `; do if [ -S "$s" ]; then if [ -w "$s" ]; then echo "ok $s"; else echo "denied $s"; fi; fi; done`
	out, probeErr := t.Exec(ctx, probe, 1024)
	if probeErr == nil {
		for _, line := range strings.Split(strings.TrimSpace(out.Stdout.String()), "\n") {
			if socket, denied := strings.CutPrefix(line, "denied "); denied {
				return fmt.Errorf("permission denied on %s: add user %q to the lxd group", socket, t.Host().User)
			}
		}
		if strings.TrimSpace(out.Stdout.String()) == "" {
			return fmt.Errorf("no LXD socket on the host (tried %s): is LXD installed and initialised (lxd init)?", strings.Join(sockets, ", "))
		}
	}
	return fmt.Errorf("lxd (tried %s): %w", strings.Join(sockets, ", "), err)
}

// Launch creates and starts an instance, like `lxc launch IMAGE -p default
// -p docker`, and waits for it to run: `lxd.launch: {image: ..., profiles: [...]}`.
type Launch struct {
	Image    string            `yaml:"image"` // alias or fingerprint; {arch} becomes the host's Debian architecture
	Profiles []string          `yaml:"profiles"`
	Config   map[string]string `yaml:"config"`
	Name     string            `yaml:"name"`      // default: everywhere-RUN-HOST, unique per run and host
	WaitIPv4 bool              `yaml:"wait_ipv4"` // also wait for a global IPv4 address
}

// Validate checks the fields.
func (l *Launch) Validate() error {
	if l.Image == "" {
		return errors.New("image: missing")
	}
	return nil
}

// Kind is "lxd.launch".
func (*Launch) Kind() string { return "lxd.launch" }

// Command describes the step as lxc would be called.
func (l *Launch) Command() string {
	cmd := "lxc launch " + l.Image
	for _, p := range l.Profiles {
		cmd += " -p " + p
	}
	return cmd
}

var fingerprint = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// Run launches the instance. What it creates is remembered for lxd.exec and
// lxd.delete; a launch cut short by Ctrl-C or a timeout is finished and
// deleted on a context of its own, so it leaves nothing behind.
func (l *Launch) Run(ctx context.Context, t plan.Target, limit int) (*host.Output, error) {
	s, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	h := t.Host()
	image := strings.ReplaceAll(l.Image, "{arch}", h.Arch.Debian())
	for _, p := range l.Profiles {
		ok, err := s.ProfileExists(ctx, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("profile %q does not exist on this LXD (lxc profile create %s)", p, p)
		}
	}
	source := InstanceSource{Type: "image", Alias: image}
	if fingerprint.MatchString(image) {
		source = InstanceSource{Type: "image", Fingerprint: image}
	} else if _, err := s.ImageAlias(ctx, image); IsNotFound(err) {
		return nil, fmt.Errorf("image alias %q is unknown on this LXD (lxc image list); nothing is fetched from an image server", image)
	} else if err != nil {
		return nil, err
	}
	name := l.Name
	if name == "" {
		name = instanceName(t.RunID(), h.Name)
	}
	profiles := l.Profiles
	if profiles == nil {
		profiles = []string{"default"}
	}
	s.remember(name)
	creation, err := s.do(ctx, "POST", "/1.0/instances", CreateInstance{Name: name, Type: "container", Source: source, Profiles: profiles, Config: l.Config}, nil)
	if err == nil {
		_, err = s.Wait(ctx, creation)
	}
	if err == nil {
		err = s.SetState(ctx, name, "start", false)
	}
	var inst *Instance
	if err == nil {
		inst, err = s.WaitRunning(ctx, name, l.WaitIPv4)
	}
	if err != nil {
		if ctx.Err() != nil {
			s.undo(context.WithoutCancel(ctx), creation, name)
		}
		return nil, fmt.Errorf("launching %s from %s: %w", name, image, err)
	}
	out := host.NewOutput(limit)
	fmt.Fprintf(&out.Stdout, "%s %s (%s) from %s, profiles %s\n", inst.Name, strings.ToUpper(inst.Status), inst.Architecture, image, strings.Join(profiles, ", "))
	for _, a := range inst.IPv4() {
		fmt.Fprintln(&out.Stdout, a)
	}
	return out, nil
}

// undo removes an instance whose launch was cut short, once the server has
// finished creating it.
func (s *server) undo(ctx context.Context, creation, name string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if creation != "" {
		_, _ = s.Wait(ctx, creation)
	}
	if err := s.Delete(ctx, name); err == nil || IsNotFound(err) {
		s.forget(name)
	}
}

var notInName = regexp.MustCompile(`[^a-zA-Z0-9-]`)

func instanceName(runID, host string) string {
	name := "everywhere-" + runID + "-" + host
	name = notInName.ReplaceAllString(name, "-")
	return strings.Trim(name[:min(len(name), 63)], "-")
}

// List shows the server's instances like `lxc list`: `lxd.list: {}`.
type List struct{}

// Kind is "lxd.list".
func (*List) Kind() string { return "lxd.list" }

// Command describes the step as lxc would be called.
func (*List) Command() string { return "lxc list" }

// Run lists name, state, IPv4 addresses and architecture.
func (*List) Run(ctx context.Context, t plan.Target, limit int) (*host.Output, error) {
	s, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	list, err := s.Instances(ctx)
	if err != nil {
		return nil, err
	}
	out := host.NewOutput(limit)
	tw := tabwriter.NewWriter(&out.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tIPV4\tARCH")
	for _, i := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Name, strings.ToUpper(i.Status), strings.Join(i.IPv4(), " "), i.Architecture)
	}
	return out, tw.Flush()
}

// Exec runs a command in an instance, by default the one this run launched
// last through this host: `lxd.exec: {cmd: [uname, -a]}`.
type Exec struct {
	Instance string   `yaml:"instance"`
	Cmd      []string `yaml:"cmd"`
}

// Validate checks the fields.
func (x *Exec) Validate() error {
	if len(x.Cmd) == 0 {
		return errors.New("cmd: missing")
	}
	return nil
}

// Kind is "lxd.exec".
func (*Exec) Kind() string { return "lxd.exec" }

// Command describes the step as lxc would be called.
func (x *Exec) Command() string {
	instance := x.Instance
	if instance == "" {
		instance = "(launched)"
	}
	return "lxc exec " + instance + " -- " + host.ShellQuote(x.Cmd)
}

// Run executes the command and returns its output and exit code.
func (x *Exec) Run(ctx context.Context, t plan.Target, limit int) (*host.Output, error) {
	s, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	name := x.Instance
	if name == "" {
		launched := s.instances()
		if len(launched) == 0 {
			return nil, errors.New("no instance to run in: no lxd.launch of this run succeeded on this host (or name one with instance)")
		}
		name = launched[len(launched)-1]
	}
	out := host.NewOutput(limit)
	code, err := s.Client.Exec(ctx, name, x.Cmd, &out.Stdout, &out.Stderr)
	if err != nil {
		return out, fmt.Errorf("exec in %s: %w", name, err)
	}
	out.ExitCode = code
	return out, nil
}

// Delete stops and deletes an instance, by default every instance this run
// launched through this host; one already gone is fine, so cleanup can
// always run it: `lxd.delete: {}`.
type Delete struct {
	Instance string `yaml:"instance"`
}

// Kind is "lxd.delete".
func (*Delete) Kind() string { return "lxd.delete" }

// Command describes the step as lxc would be called.
func (d *Delete) Command() string {
	if d.Instance == "" {
		return "lxc delete --force (what this run launched)"
	}
	return "lxc delete --force " + d.Instance
}

// Run deletes the instances.
func (d *Delete) Run(ctx context.Context, t plan.Target, limit int) (*host.Output, error) {
	s, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	names := s.instances()
	if d.Instance != "" {
		names = []string{d.Instance}
	}
	out := host.NewOutput(limit)
	for _, name := range names {
		err := s.Delete(ctx, name)
		switch {
		case IsNotFound(err):
			fmt.Fprintf(&out.Stdout, "%s: already gone\n", name)
		case err != nil:
			return out, fmt.Errorf("deleting %s: %w", name, err)
		default:
			fmt.Fprintf(&out.Stdout, "%s: deleted\n", name)
		}
		s.forget(name)
	}
	if len(names) == 0 {
		fmt.Fprintln(&out.Stdout, "nothing to delete")
	}
	return out, nil
}
