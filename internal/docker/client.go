// Package docker drives an engine that speaks Docker's Engine API — Docker,
// or Podman's Docker-compatible service — through the host's own SSH
// connection (OpenSSH's unix-socket forwarding): no TCP port is opened on
// the host and no docker binary is run. Each engine is a Driver made by New
// with its Options; the client is internal/engineapi's.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"

	"everywhere/internal/driver"
	"everywhere/internal/engineapi"
	"everywhere/internal/host"
)

// Label marks everything a run creates, with the run id as its value, so
// cleanup and `everywhere clean` find it.
const Label = engineapi.Label

// ErrImageMissing is returned when a step's image is not on the engine and
// the step did not ask for a pull.
var ErrImageMissing = errors.New("image not present")

// engine is a host's engine client, shared by the host's steps.
type engine struct {
	*engineapi.Engine
	config  Config
	product string // what the driver expects to find: Docker, Podman
}

// connect returns the host's engine client, negotiated and checked,
// opening it on first use.
func (d *Driver) connect(ctx context.Context, t driver.Conn) (*engine, error) {
	return d.engines.Get(ctx, t)
}

func (d *Driver) open(ctx context.Context, t driver.Conn) (*engine, error) {
	cfg := d.block.Of(t.Host())
	if cfg.Host != "" {
		ep := engineapi.Endpoint{Host: cfg.Host}
		if cfg.TLS.complete() {
			ep.TLS = &engineapi.TLSFiles{CA: cfg.TLS.CA, Cert: cfg.TLS.Cert, Key: cfg.TLS.Key}
		}
		e, err := engineapi.Open(ctx, ep)
		if err != nil {
			return nil, fmt.Errorf("%s engine at %s: %w", d.opts.Product, ep.Where(), err)
		}
		return &engine{Engine: e, config: cfg, product: d.opts.Product}, nil
	}
	sockets := []string{cfg.Socket}
	if cfg.Socket == "" {
		var err error
		if sockets, err = d.sockets(ctx, t); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, socket := range sockets {
		e, err := engineapi.Open(ctx, engineapi.Endpoint{Socket: socket, Dial: t.DialContext})
		if err == nil {
			return &engine{Engine: e, config: Config{Socket: socket, TLS: cfg.TLS}, product: d.opts.Product}, nil
		}
		errs = append(errs, d.diagnose(ctx, t, socket, err))
	}
	err := errors.Join(errs...)
	if !slices.ContainsFunc(errs, func(err error) bool { return !errors.Is(err, driver.ErrAbsent) }) {
		err = driver.Absent(err) // absent only when no socket is there at all
	}
	return nil, err
}

// sockets are the driver's default sockets on the host, with
// $XDG_RUNTIME_DIR asked of the host where one names it.
func (d *Driver) sockets(ctx context.Context, t driver.Conn) ([]string, error) {
	var out []string
	for _, s := range d.opts.Sockets {
		if strings.Contains(s, "$XDG_RUNTIME_DIR") {
			dir, err := t.Exec(ctx, `printf %s "${XDG_RUNTIME_DIR:-/run/user/$(id -u)}"`, 256)
			if err != nil {
				return nil, fmt.Errorf("asking the host for XDG_RUNTIME_DIR: %w", err)
			}
			s = strings.ReplaceAll(s, "$XDG_RUNTIME_DIR", dir.Stdout.String())
		}
		out = append(out, s)
	}
	return out, nil
}

// note is what to know of the engine besides its versions: that it runs the
// host's containers under emulation, that it is another product than the
// driver's (Podman behind Docker's socket), or is reached without TLS.
func (e *engine) note(declared host.Arch) string {
	var notes []string
	if e.Version.Arch != Platform(declared).Architecture {
		notes = append(notes, fmt.Sprintf("engine is %s on a host declared %s: %s containers run under emulation", e.Version.Arch, declared, declared))
	}
	if p := engineapi.Product(e.Version); p != "" && p != e.product {
		notes = append(notes, fmt.Sprintf("this is %s (Docker API %s)", e.Product(), e.Version.APIVersion))
	}
	if e.config.plainTCP() {
		notes = append(notes, "reached over plain TCP without TLS (tls: false)")
	}
	return strings.Join(notes, "; ")
}

// diagnose turns a failure to reach the engine at socket into what the
// user can do: OpenSSH says only "open failed" for a missing socket and a
// refused one.
func (d *Driver) diagnose(ctx context.Context, t driver.Conn, socket string, err error) error {
	probe := fmt.Sprintf("if [ ! -S %[1]s ]; then echo missing; elif [ ! -w %[1]s ]; then echo denied; fi", host.ShellQuote([]string{socket}))
	out, probeErr := t.Exec(ctx, probe, 64)
	switch {
	case probeErr == nil && strings.TrimSpace(out.Stdout.String()) == "missing":
		return driver.Absent(fmt.Errorf("no %s socket at %s on the host: is %s installed and running? (%v)", d.opts.Product, socket, d.opts.Product, err))
	case probeErr == nil && strings.TrimSpace(out.Stdout.String()) == "denied":
		return fmt.Errorf("permission denied on %s: add user %q to the %s group, or use a user who may use %s (%v)", socket, t.Host().User, d.opts.CLI, d.opts.Product, err)
	}
	return fmt.Errorf("%s engine at unix socket %s (through SSH): %w", d.opts.Product, socket, err)
}

// requireImage fails with ErrImageMissing, saying no pull was attempted,
// when ref is not on the engine.
func (e *engine) requireImage(ctx context.Context, ref string) error {
	_, err := e.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %q is not on this engine (no pull attempted: add pull: true to the step, or load the image)", ErrImageMissing, ref)
	}
	if err != nil {
		return fmt.Errorf("inspecting image %q: %w", ref, err)
	}
	return nil
}

// SaveImage streams ref from the host's engine as a docker-archive (docker
// save): how an image reaches an engine that no registry serves, such as
// Docker inside an LXD instance on that host.
func (d *Driver) SaveImage(ctx context.Context, t driver.Conn, ref string) (io.ReadCloser, error) {
	e, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := e.requireImage(ctx, ref); err != nil {
		return nil, err
	}
	r, err := e.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("saving image %q from %s: %w", ref, e.Where, err)
	}
	return r, nil
}
