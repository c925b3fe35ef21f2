package lxd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/lxdclient"
)

// Launch creates and starts an instance, like `lxc launch IMAGE -p default
// -p docker`, and waits for it to run: `lxd.launch: {image: ..., profiles: [...]}`.
type Launch struct {
	driver.Bound[*Driver] `yaml:"-"`
	Image                 string            `yaml:"image"` // alias or fingerprint; {arch} becomes the host's Debian architecture
	Profiles              []string          `yaml:"profiles"`
	Config                map[string]string `yaml:"config"`
	Name                  string            `yaml:"name"`      // default: everywhere-RUN-HOST, unique per run and host
	WaitIPv4              bool              `yaml:"wait_ipv4"` // also wait for a global IPv4 address
}

// Validate checks the fields.
func (l *Launch) Validate() error {
	if l.Image == "" {
		return errors.New("image: missing")
	}
	return nil
}

// Command describes the step as lxc would be called.
func (l *Launch) Command() string {
	cmd := l.Driver().opts.CLI + " launch " + l.Image
	for _, p := range l.Profiles {
		cmd += " -p " + p
	}
	return cmd
}

var fingerprint = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// Run launches the instance. What it creates is remembered for lxd.exec and
// lxd.delete; a launch cut short by Ctrl-C or a timeout is finished and
// deleted on a context of its own, so it leaves nothing behind.
func (l *Launch) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	out, err := l.launch(ctx, t, limit)
	if state, stateErr := l.Driver().launches.Get(ctx, t); stateErr == nil && !errors.Is(err, driver.ErrNotApplicable) {
		state.set(err) // the latest launch decides: the steps after it act on what it made
	}
	return out, err
}

func (l *Launch) launch(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	s, err := l.Driver().connect(ctx, t)
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
			return nil, fmt.Errorf("profile %q does not exist on this %s (%s profile create %s)", p, s.product, l.Driver().opts.CLI, p)
		}
	}
	source, err := s.source(ctx, image)
	if err != nil {
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
	config := map[string]string{RunKey: t.RunID(), HostKey: h.Name}
	for k, v := range l.Config {
		config[k] = v
	}
	creation, err := s.Create(ctx, lxdclient.CreateInstance{Name: name, Type: "container", Source: source, Profiles: profiles, Config: config})
	if err != nil {
		if ctx.Err() != nil {
			// The server may create it after the request was cut short.
			s.removeUnacknowledged(ctx, t, name)
		}
		// Otherwise nothing was created: an instance of that name that
		// exists is not ours.
		return nil, fmt.Errorf("launching %s from %s: %w", name, image, err)
	}
	if _, err = s.Wait(ctx, creation); err == nil {
		s.remember(name) // only now is it known to be this run's
		err = s.SetState(ctx, name, "start", false)
	}
	var inst *lxdclient.Instance
	if err == nil {
		inst, err = s.WaitRunning(ctx, name, l.WaitIPv4)
	}
	if err != nil {
		if ctx.Err() != nil {
			if undoErr := s.undo(ctx, t, creation, name); undoErr != nil {
				return nil, fmt.Errorf("launching %s from %s: %w; deleting what it created failed: %v", name, image, err, undoErr)
			}
		}
		return nil, fmt.Errorf("launching %s from %s: %w", name, image, err)
	}
	out := host.NewOutputFor(ctx, limit)
	fmt.Fprintf(&out.Stdout, "%s %s (%s) from %s, profiles %s\n", inst.Name, strings.ToUpper(inst.Status), inst.Architecture, image, strings.Join(profiles, ", "))
	for _, a := range inst.IPv4() {
		fmt.Fprintln(&out.Stdout, a)
	}
	return out, nil
}

// source is where an instance of image (an alias or a fingerprint) comes
// from: this server's own images, never an image server. A remote's name
// is looked up among them as LocalAlias says.
func (s *server) source(ctx context.Context, image string) (lxdclient.InstanceSource, error) {
	if fingerprint.MatchString(image) {
		return lxdclient.InstanceSource{Type: "image", Fingerprint: image}, nil
	}
	alias, remote := LocalAlias(image)
	if _, err := s.ImageAlias(ctx, alias); lxdclient.IsNotFound(err) {
		if remote != "" {
			return lxdclient.InstanceSource{}, fmt.Errorf("image %q: no image of alias %q on this %s, and nothing is fetched from the %s image server: copy it in beforehand under that alias (image copy %s local: --alias %s)", image, alias, s.product, remote, image, alias)
		}
		return lxdclient.InstanceSource{}, fmt.Errorf("image alias %q is unknown on this %s (image list); nothing is fetched from an image server", image, s.product)
	} else if err != nil {
		return lxdclient.InstanceSource{}, err
	}
	return lxdclient.InstanceSource{Type: "image", Alias: alias}, nil
}

// LocalAlias is the alias under which a server's own copy of image is
// looked up, and the remote image was named from ("" for a local alias):
// REMOTE:NAME, where REMOTE has no slash.
// LXD's ubuntu: remote names Ubuntu by release (ubuntu:24.04); Incus has no
// ubuntu: remote, and its images: remote, like LXD's, names Ubuntu
// ubuntu/24.04. So that one plan serves both servers, images:NAME is NAME
// and ubuntu:RELEASE is ubuntu/RELEASE on either.
func LocalAlias(image string) (alias, remote string) {
	remote, name, found := strings.Cut(image, ":")
	switch {
	case !found || strings.Contains(remote, "/"): // a remote's name has no slash: an alias such as everywhere/busybox:test
		return image, ""
	case remote == "ubuntu":
		return "ubuntu/" + name, remote
	}
	return name, remote
}

// undoGrace bounds finishing and deleting an instance whose launch was cut short.
const undoGrace = time.Minute

// undo removes an instance whose launch was cut short, once the server has
// finished creating it, and only when it is this run's.
func (s *server) undo(ctx context.Context, t driver.Target, creation, name string) error {
	ctx, cancel := t.Detach(ctx, undoGrace)
	defer cancel()
	if _, err := s.Wait(ctx, creation); err != nil {
		return nil // the creation failed: there is nothing to remove
	}
	return s.deleteOwned(ctx, name, t.RunID())
}

// deleteOwned deletes name if it is run runID's, and refuses otherwise.
func (s *server) deleteOwned(ctx context.Context, name, runID string) error {
	if _, err := s.owned(ctx, name, runID); err != nil {
		return err
	}
	// Remembered first: if the delete fails, the plan's cleanup tries again.
	s.remember(name)
	if err := s.Delete(ctx, name); err != nil && !lxdclient.IsNotFound(err) {
		return err
	}
	s.forget(name)
	return nil
}

// removeUnacknowledged deletes name if the server made it for this run
// although the request that asked for it was cut short before its answer:
// the server is given the time it takes to finish what it was asked, as
// the docker driver gives its engine (removeCreated). An instance of
// another run, or none, is left alone.
func (s *server) removeUnacknowledged(ctx context.Context, t driver.Target, name string) {
	ctx, cancel := t.Detach(ctx, undoGrace)
	defer cancel()
	for range 3 {
		if s.deleteOwned(ctx, name, t.RunID()) == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// launchState remembers, per connection, why this run's lxd.launch did
// not succeed, so that the steps needing it are skipped saying so.
type launchState struct {
	mu     sync.Mutex
	failed error
}

func (st *launchState) set(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failed = err
}

func (st *launchState) err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.failed
}

// Close has nothing to release.
func (*launchState) Close() error { return nil }

// connectAfterLaunch is connect for a step that acts on what lxd.launch
// made when needsLaunch: when this run's launch failed, the step is skipped.
func (d *Driver) connectAfterLaunch(ctx context.Context, t driver.Target, needsLaunch bool) (*server, error) {
	if err := d.launchFailure(ctx, t); needsLaunch && err != nil {
		return nil, err
	}
	return d.connect(ctx, t)
}

// launchFailure is the reason to skip a step that needs this run's launch
// on this host, when that launch failed; nil otherwise.
func (d *Driver) launchFailure(ctx context.Context, t driver.Target) error {
	state, err := d.launches.Get(ctx, t)
	if err != nil {
		return nil // nothing known of an earlier launch
	}
	if err := state.err(); err != nil {
		return fmt.Errorf("%w: %s.launch did not succeed (%v)", driver.ErrPrerequisite, d.opts.Name, err)
	}
	return nil
}

// HostKey is the instance config key naming the inventory host through
// which the instance was created: on an LXD that several hosts share, each
// host's cleanup touches only its own.
const HostKey = "user.everywhere.host"

// ErrNotOwned is returned for an instance that this run did not create.
var ErrNotOwned = errors.New("not created by this run")

// owned returns the instance when it carries runID, and ErrNotOwned when it
// carries another or none: a run never touches what it did not create.
func (s *server) owned(ctx context.Context, name, runID string) (*lxdclient.Instance, error) {
	i, err := s.Instance(ctx, name)
	if err != nil {
		return nil, err
	}
	if got := i.Config[RunKey]; got != runID {
		owner := "no " + RunKey
		if got != "" {
			owner = RunKey + "=" + got
		}
		return nil, fmt.Errorf("instance %s has %s: %w (refusing to touch it; set any_run: true on the step to allow it)", name, owner, ErrNotOwned)
	}
	return i, nil
}

var notInName = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// instanceName is unique per run and host and valid for LXD (at most 63
// letters, digits and hyphens, starting with a letter): everywhere-RUN-HOST.
// A host name that LXD cannot take as it is (web.1, web_1, too long) is
// cleaned and gets a hash of the whole name, which keeps such hosts apart.
func instanceName(runID, hostName string) string {
	name := "everywhere-" + notInName.ReplaceAllString(runID, "-")
	readable := strings.Trim(notInName.ReplaceAllString(hostName, "-"), "-")
	if readable == hostName && len(name)+1+len(readable) <= 63 {
		return name + "-" + readable
	}
	sum := sha256.Sum256([]byte(hostName))
	suffix := "-" + hex.EncodeToString(sum[:3])
	if room := 63 - len(name) - len(suffix) - 1; room > 0 && readable != "" {
		name += "-" + strings.TrimRight(readable[:min(len(readable), room)], "-")
	}
	if len(name)+len(suffix) > 63 {
		name = strings.TrimRight(name[:63-len(suffix)], "-")
	}
	return name + suffix
}

// List shows the server's instances like `lxc list`: `lxd.list: {}`.
type List struct {
	driver.Bound[*Driver] `yaml:"-"`
}

// Command describes the step as lxc would be called.
func (l *List) Command() string { return l.Driver().opts.CLI + " list" }

// Run lists name, state, IPv4 addresses and architecture.
func (l *List) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	s, err := l.Driver().connectAfterLaunch(ctx, t, true)
	if err != nil {
		return nil, err
	}
	list, err := s.Instances(ctx)
	if err != nil {
		return nil, err
	}
	out := host.NewOutputFor(ctx, limit)
	tw := tabwriter.NewWriter(&out.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tIPV4\tARCH")
	for _, i := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Name, strings.ToUpper(i.Status), strings.Join(i.IPv4(), " "), i.Architecture)
	}
	return out, tw.Flush()
}

// Exec runs a command in an instance, by default the one this run launched
// last through this host: `lxd.exec: {cmd: [uname, -a]}`. It acts only on an
// instance this run created unless AnyRun.
type Exec struct {
	driver.Bound[*Driver] `yaml:"-"`
	Instance              string   `yaml:"instance"`
	Cmd                   []string `yaml:"cmd"`
	AnyRun                bool     `yaml:"any_run"` // also in an instance this run did not create
}

// Validate checks the fields.
func (x *Exec) Validate() error {
	if len(x.Cmd) == 0 {
		return errors.New("cmd: missing")
	}
	return nil
}

// Command describes the step as lxc would be called.
func (x *Exec) Command() string {
	instance := x.Instance
	if instance == "" {
		instance = "(launched)"
	}
	return x.Driver().opts.CLI + " exec " + instance + " -- " + host.ShellQuote(x.Cmd)
}

// Run executes the command and returns its output and exit code. When the
// step ends first, the command and what it started are killed.
func (x *Exec) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	s, name, err := x.Driver().instanceFor(ctx, t, x.Instance, x.AnyRun)
	if err != nil {
		return nil, err
	}
	out := host.NewOutputFor(ctx, limit)
	return out, s.exec(ctx, t, name, x.Cmd, out)
}

// instanceFor connects and names the instance a step acts in: the one
// given, else the one this run launched last through this host. It must be
// this run's own unless anyRun.
func (d *Driver) instanceFor(ctx context.Context, t driver.Target, instance string, anyRun bool) (*server, string, error) {
	s, err := d.connectAfterLaunch(ctx, t, instance == "")
	if err != nil {
		return nil, "", err
	}
	name := instance
	if name == "" {
		launched := s.instances()
		if len(launched) == 0 {
			return nil, "", fmt.Errorf("no instance to run in: no %s.launch of this run succeeded on this host (or name one with instance)", d.opts.Name)
		}
		name = launched[len(launched)-1]
	}
	if !anyRun {
		if _, err := s.owned(ctx, name, t.RunID()); err != nil {
			return nil, "", fmt.Errorf("exec in %s: %w", name, err)
		}
	}
	return s, name, nil
}

// exec runs argv in the instance, its output and exit code into out. When
// the step ends first, the command and what it started are killed.
func (s *server) exec(ctx context.Context, t driver.Target, name string, argv []string, out *host.Output) error {
	mark := driver.NewExecMark()
	code, err := s.Client.Exec(ctx, name, argv, map[string]string{driver.ExecMarker: mark}, &out.Stdout, &out.Stderr)
	if err != nil && ctx.Err() != nil {
		// ctx's error, not err: the HTTP request that was waiting says nothing more.
		return driver.StopMarked(ctx, t, name, mark, ctx.Err(), func(ctx context.Context, argv []string) (string, error) {
			var killed strings.Builder
			_, err := s.Client.Exec(ctx, name, argv, nil, &killed, io.Discard)
			return killed.String(), err
		})
	}
	if err != nil {
		return fmt.Errorf("exec in %s: %w", name, err)
	}
	out.ExitCode = code
	return nil
}

// Delete stops and deletes an instance, by default every instance this run
// launched through this host; one already gone is fine, so cleanup can
// always run it: `lxd.delete: {}`. It deletes only what this run created
// unless AnyRun.
type Delete struct {
	driver.Bound[*Driver] `yaml:"-"`
	Instance              string `yaml:"instance"`
	AnyRun                bool   `yaml:"any_run"` // also an instance this run did not create
}

// Command describes the step as lxc would be called.
func (del *Delete) Command() string {
	if del.Instance == "" {
		return del.Driver().opts.CLI + " delete --force (what this run launched)"
	}
	return del.Driver().opts.CLI + " delete --force " + del.Instance
}

// Run deletes the instances. With nothing to delete because this run's
// launch failed, it is skipped; what a failed launch did create is deleted.
func (del *Delete) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	s, err := del.Driver().connect(ctx, t)
	if err != nil {
		if failed := del.Driver().launchFailure(ctx, t); del.Instance == "" && failed != nil && !errors.Is(err, driver.ErrNotApplicable) {
			return nil, failed
		}
		return nil, err
	}
	names := s.instances()
	if del.Instance != "" {
		names = []string{del.Instance}
	} else if failed := del.Driver().launchFailure(ctx, t); len(names) == 0 && failed != nil {
		return nil, failed
	}
	out := host.NewOutputFor(ctx, limit)
	for _, name := range names {
		if !del.AnyRun {
			if _, err := s.owned(ctx, name, t.RunID()); lxdclient.IsNotFound(err) {
				fmt.Fprintf(&out.Stdout, "%s: already gone\n", name)
				s.forget(name)
				continue
			} else if err != nil {
				return out, fmt.Errorf("deleting %s: %w", name, err)
			}
		}
		err := s.Delete(ctx, name)
		switch {
		case lxdclient.IsNotFound(err):
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
