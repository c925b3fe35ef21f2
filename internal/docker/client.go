// Package docker drives a host's Docker engine with the official Go client,
// through the host's own SSH connection (OpenSSH's unix-socket forwarding):
// no TCP port is opened on the host and no docker binary is run.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/client"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// Label marks everything a run creates, with the run id as its value, so
// cleanup and `everywhere clean` find it.
const Label = "io.everywhere.run"

// minAPIVersion is the oldest engine API spoken: Docker 20.10's, the
// first with per-container platforms.
const minAPIVersion = "1.41"

// ErrImageMissing is returned when a step's image is not on the engine and
// the step did not ask for a pull.
var ErrImageMissing = errors.New("image not present")

// engine is a host's Docker client, shared by the host's steps.
type engine struct {
	*client.Client
	config  Config
	where   string        // how it is reached, for errors
	version types.Version // asked once, when connecting
}

// engines holds each connection's Docker client.
var engines = driver.NewPerConn(open)

// connect returns the host's Docker client, negotiated and checked, opening
// it on first use.
func connect(ctx context.Context, t driver.Conn) (*engine, error) { return engines.Get(ctx, t) }

func open(ctx context.Context, t driver.Conn) (*engine, error) {
	cfg := Block.Of(t.Host())
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	e := &engine{config: cfg}
	if cfg.Host != "" {
		e.where = cfg.Host
		opts = append(opts, client.WithHost(cfg.Host))
		if cfg.TLS.complete() {
			opts = append(opts, client.WithTLSClientConfig(cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key))
		}
	} else {
		e.where = "unix socket " + cfg.Socket + " (through SSH)"
		opts = append(opts, client.WithHost("unix://"+cfg.Socket),
			client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
				return t.DialContext(ctx, "unix", cfg.Socket)
			}))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	e.Client = c
	v, err := c.ServerVersion(ctx)
	if err != nil {
		_ = c.Close()
		return nil, diagnose(ctx, t, e.where, err)
	}
	e.version = v
	if versionLess(v.APIVersion, minAPIVersion) {
		_ = c.Close()
		return nil, fmt.Errorf("docker engine %s speaks API %s; everywhere needs %s or newer (Docker 20.10+)", v.Version, v.APIVersion, minAPIVersion)
	}
	return e, nil
}

// note is what to know of the engine besides its versions: that it runs the
// host's containers under emulation, or is reached without TLS.
func (e *engine) note(declared host.Arch) string {
	var notes []string
	if e.version.Arch != Platform(declared).Architecture {
		notes = append(notes, fmt.Sprintf("engine is %s on a host declared %s: %s containers run under emulation", e.version.Arch, declared, declared))
	}
	if e.config.plainTCP() {
		notes = append(notes, "reached over plain TCP without TLS (tls: false)")
	}
	return strings.Join(notes, "; ")
}

// diagnose turns a failure to reach the engine into what the user can do:
// OpenSSH says only "open failed" for a missing socket and a refused one.
func diagnose(ctx context.Context, t driver.Conn, where string, err error) error {
	socket := Block.Of(t.Host()).Socket
	if socket == "" {
		return fmt.Errorf("docker engine at %s: %w", where, err)
	}
	probe := fmt.Sprintf("if [ ! -S %[1]s ]; then echo missing; elif [ ! -w %[1]s ]; then echo denied; fi", host.ShellQuote([]string{socket}))
	out, probeErr := t.Exec(ctx, probe, 64)
	switch {
	case probeErr == nil && strings.TrimSpace(out.Stdout.String()) == "missing":
		return fmt.Errorf("no Docker socket at %s on the host: is Docker installed and running? (%v)", socket, err)
	case probeErr == nil && strings.TrimSpace(out.Stdout.String()) == "denied":
		return fmt.Errorf("permission denied on %s: add user %q to the docker group, or use a user who may use Docker (%v)", socket, t.Host().User, err)
	}
	return fmt.Errorf("docker engine at %s: %w", where, err)
}

// versionLess compares dotted API versions such as 1.41 and 1.9.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
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

// SaveImage streams ref from the host's Docker engine as a docker-archive
// (docker save): how an image reaches an engine that no registry serves,
// such as Docker inside an LXD instance on that host.
func SaveImage(ctx context.Context, t driver.Conn, ref string) (io.ReadCloser, error) {
	e, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := e.requireImage(ctx, ref); err != nil {
		return nil, err
	}
	r, err := e.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("saving image %q from %s: %w", ref, e.where, err)
	}
	return r, nil
}
