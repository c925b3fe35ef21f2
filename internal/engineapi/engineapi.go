// Package engineapi opens a client of an engine that speaks Docker's Engine
// API — Docker itself, or Podman's Docker-compatible service — over any
// dialer (a host's SSH connection, this machine's sockets) or TCP with TLS,
// negotiates the API version and says which product answered. It is the
// official Docker Go client underneath; it knows no driver, plan or run.
package engineapi

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/client"
)

// Label marks every container a run creates, with the run id as its value,
// so cleanup and `everywhere clean` find it.
const Label = "io.everywhere.run"

// MinAPIVersion is the oldest Engine API spoken: Docker 20.10's, the first
// with per-container platforms (Podman 4 answers 1.41 too).
const MinAPIVersion = "1.41"

// Endpoint is where an engine listens: a unix socket reached through Dial,
// or Host (tcp://ADDRESS:PORT, or unix://PATH on this machine) with TLS.
type Endpoint struct {
	Socket string
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Host   string
	TLS    *TLSFiles // nil: none
}

// TLSFiles are the PEM files of a TLS-protected endpoint.
type TLSFiles struct{ CA, Cert, Key string }

// Where says how the endpoint is reached, for messages.
func (e Endpoint) Where() string {
	if e.Host != "" {
		return e.Host
	}
	return "unix socket " + e.Socket + " (through SSH)"
}

// Engine is an open client of one engine.
type Engine struct {
	*client.Client
	Version types.Version // asked once, when opened
	Where   string
}

// Open connects, negotiates the API version and checks it is at least
// MinAPIVersion. A failure to reach the engine is returned as it is, for
// the caller to diagnose.
func Open(ctx context.Context, ep Endpoint) (*Engine, error) {
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	if ep.Host != "" {
		opts = append(opts, client.WithHost(ep.Host))
		if ep.TLS != nil {
			opts = append(opts, client.WithTLSClientConfig(ep.TLS.CA, ep.TLS.Cert, ep.TLS.Key))
		}
	} else {
		dial := ep.Dial
		opts = append(opts, client.WithHost("unix://"+ep.Socket),
			client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, "unix", ep.Socket) }))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("engine client: %w", err)
	}
	v, err := c.ServerVersion(ctx)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	e := &Engine{Client: c, Version: v, Where: ep.Where()}
	if VersionLess(v.APIVersion, MinAPIVersion) {
		_ = c.Close()
		return nil, fmt.Errorf("%s speaks API %s; everywhere needs %s or newer (Docker 20.10+, Podman 4+)", e.Product(), v.APIVersion, MinAPIVersion)
	}
	return e, nil
}

// Product names what answered and its version: "Docker 20.10.24" or
// "Podman 4.3.1", told apart by the components the engine lists.
func (e *Engine) Product() string {
	if p := Product(e.Version); p != "" {
		return p + " " + e.Version.Version
	}
	return "engine " + e.Version.Version
}

// Product is "Podman" or "Docker" by a version answer's components; empty
// when it names neither.
func Product(v types.Version) string {
	for _, c := range v.Components {
		switch {
		case strings.HasPrefix(c.Name, "Podman"):
			return "Podman"
		case c.Name == "Engine":
			return "Docker"
		}
	}
	return ""
}

// VersionLess compares dotted API versions such as 1.41 and 1.9.
func VersionLess(a, b string) bool {
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
