package lxd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/lxdclient"
)

// readyFile is where a container's command writes its output, read for
// its first line: LXD's exec of a command left running returns nothing
// while it runs.
const readyFile = "/run/everywhere-ready"

// addressWait bounds waiting for an instance's DHCP lease: a minute is
// plenty natively (scaled with the step's time limit on an emulated host),
// and an instance that never gets one (emulated dhclient) fails instead of
// holding every host's matrix for the step's timeout.
const addressWait = time.Minute

// startContainer launches an instance for a step of another driver
// (net.matrix), puts the files in place, starts the command in the
// background and waits for its first line. LXD images need an init, so
// the spec must name one: `{arch}` in it becomes the host's architecture.
func (d *Driver) startContainer(ctx context.Context, t driver.Target, spec driver.ContainerSpec) (driver.Container, error) {
	if spec.Image == "" {
		return nil, fmt.Errorf("an %s instance needs an image that %s has (such as debian/bookworm/{arch}): give the step an image", d.opts.Product, d.opts.Product)
	}
	if len(spec.Cmd) == 0 {
		return nil, errors.New("no command to run in the instance")
	}
	if spec.Network != "" {
		return nil, fmt.Errorf("network %q: %s instances are on their profile's network; leave network out", spec.Network, d.opts.Product)
	}
	s, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	h := t.Host()
	image := strings.ReplaceAll(spec.Image, "{arch}", h.Arch.Debian())
	source, err := s.source(ctx, image)
	if err != nil {
		return nil, err
	}
	name := instanceName(t.RunID(), h.Name+"-net")
	creation, err := s.Create(ctx, lxdclient.CreateInstance{Name: name, Type: "container", Source: source, Profiles: []string{"default"},
		Config: map[string]string{RunKey: t.RunID(), HostKey: h.Name}})
	if err != nil {
		return nil, fmt.Errorf("launching %s from %s: %w", name, image, err)
	}
	c := &instance{s: s, t: t, name: name}
	ok := false
	defer func() {
		// Also when the launch was cut short: undo waits for the creation.
		if !ok {
			_ = s.undo(ctx, t, creation, name)
		}
	}()
	if _, err := s.Wait(ctx, creation); err != nil {
		return nil, fmt.Errorf("launching %s from %s: %w", name, image, err)
	}
	if err := s.SetState(ctx, name, "start", false); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	addressCtx, cancel := context.WithTimeout(ctx, driver.Scaled(ctx, addressWait))
	inst, err := s.WaitRunning(addressCtx, name, true)
	cancel()
	if err != nil {
		return nil, err
	}
	c.address = inst.IPv4On("eth0") // the profile's network, when there are several
	for _, f := range spec.Files {
		if err := s.PushFile(ctx, name, f.Path, bytes.NewReader(f.Data), f.Mode); err != nil {
			return nil, fmt.Errorf("instance %s: %w", name, err)
		}
	}
	background := fmt.Sprintf("nohup %s >%s 2>&1 </dev/null &", host.ShellQuote(spec.Cmd), readyFile)
	out := host.NewOutput(4096)
	if err := s.exec(ctx, t, name, []string{"sh", "-c", background}, out); err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("starting %s in %s: exit %d: %s", spec.Cmd[0], name, out.ExitCode, strings.TrimSpace(out.Stderr.String()))
	}
	readyCtx, cancel := context.WithTimeout(ctx, driver.ReadyWait)
	c.ready, err = c.firstLine(readyCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

type instance struct {
	s       *server
	t       driver.Target
	name    string
	address string
	ready   string
}

func (c *instance) Name() string    { return c.name }
func (c *instance) Address() string { return c.address }
func (c *instance) Ready() string   { return c.ready }

// firstLine waits for the first line the command wrote.
func (c *instance) firstLine(ctx context.Context) (string, error) {
	for {
		out := host.NewOutput(4096)
		if err := c.s.exec(ctx, c.t, c.name, []string{"head", "-n", "1", readyFile}, out); err != nil {
			return "", err
		}
		if line, complete := strings.CutSuffix(out.Stdout.String(), "\n"); complete {
			return line, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no line from the command in %s: %w", c.name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Exec runs argv in the instance; when ctx ends first, what it started is
// killed.
func (c *instance) Exec(ctx context.Context, argv []string, limit int) (*host.Output, error) {
	out := host.NewOutputFor(ctx, limit)
	return out, c.s.exec(ctx, c.t, c.name, argv, out)
}

// Remove stops and deletes the instance.
func (c *instance) Remove(ctx context.Context) error {
	if err := c.s.Delete(ctx, c.name); err != nil && !lxdclient.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", c.name, err)
	}
	return nil
}
