package lxd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/yamlfile"
)

func init() {
	driver.Register(&driver.Driver{
		Name: "lxd",
		Kinds: []driver.Kind{
			{Name: "lxd.launch", Parse: driver.Decode[Launch]},
			{Name: "lxd.list", Parse: driver.Decode[List]},
			{Name: "lxd.exec", Parse: driver.Decode[Exec]},
			{Name: "lxd.delete", Parse: driver.Decode[Delete]},
			{Name: "lxd.docker_run", Parse: driver.Decode[DockerRun]},
		},
		Probe:      probe,
		Clean:      clean,
		Containers: startContainer,
	})
}

// RunKey is the instance config key that carries the id of the run that
// created the instance: what lets a run touch only its own instances, and
// `everywhere clean` find what killed runs left.
const RunKey = "user.everywhere.run"

// Config is a host's `lxd:` block: its unix socket through the SSH
// connection (by default the snap's, then Debian's path), or an HTTPS
// remote with a client certificate, as `lxc remote add` sets up.
type Config struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"` // https://HOST:8443
	ClientCert string `yaml:"client_cert"`
	ClientKey  string `yaml:"client_key"`
	ServerCert string `yaml:"server_cert"` // pinned; without it the system's roots verify the server
}

// Block is every host's `lxd:` block.
var Block = inventory.NewBlock("lxd", decodeConfig)

func decodeConfig(src inventory.BlockSource) (Config, error) {
	var c Config
	if err := src.Decode(&c); err != nil {
		return Config{}, err
	}
	switch {
	case c.Socket != "" && c.URL != "":
		return Config{}, yamlfile.Errorf(src.File, src.Node, "%s: give socket (through SSH) or url (HTTPS), not both", src.Where)
	case c.URL != "" && (c.ClientCert == "" || c.ClientKey == ""):
		return Config{}, yamlfile.Errorf(src.File, src.Node, "%s: an url needs client_cert and client_key", src.Where)
	}
	c.ClientCert, c.ClientKey, c.ServerCert = src.Path(c.ClientCert), src.Path(c.ClientKey), src.Path(c.ServerCert)
	return c, nil
}

// server is a host's LXD, shared by the host's steps within a run.
type server struct {
	*Client
	info *Server

	mu       sync.Mutex
	launched []string // instances this run created through this host, oldest first
}

func (s *server) remember(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.launched, name) {
		s.launched = append(s.launched, name)
	}
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

// runs says whether the server can run instances of arch.
func (s *server) runs(arch host.Arch) bool {
	return slices.Contains(s.info.Environment.Architectures, arch.Kernel())
}

// servers holds each connection's LXD client.
var servers = driver.NewPerConn(open)

// connect returns the host's LXD, opened on first use. It also checks that
// the server can run the host's architecture: where it cannot (the built-in
// lab's LXD runs only x86_64 and i686), the step does not apply.
func connect(ctx context.Context, t driver.Conn) (*server, error) {
	s, err := servers.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	arch := t.Host().Arch
	if !s.runs(arch) {
		return nil, fmt.Errorf("%w: LXD at %s runs %s only, not %s (%s)", driver.ErrNotApplicable, s.Where(),
			strings.Join(s.info.Environment.Architectures, ", "), arch.Kernel(), arch)
	}
	return s, nil
}

func open(ctx context.Context, t driver.Conn) (*server, error) {
	cfg := Block.Of(t.Host())
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
func diagnose(ctx context.Context, t driver.Conn, sockets []string, err error) error {
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

func probe(ctx context.Context, t driver.Target) host.Facts {
	s, err := servers.Get(ctx, t)
	if err != nil {
		return driver.Unavailable(err)
	}
	facts := host.Facts{Available: true, Version: s.info.Environment.ServerVersion, API: s.info.APIVersion,
		Arch: strings.Join(s.info.Environment.Architectures, ",")}
	if arch := t.Host().Arch; !s.runs(arch) {
		facts.Note = fmt.Sprintf("LXD cannot run %s (%s) instances here", arch.Kernel(), arch)
	}
	return facts
}

// clean deletes the instances of runs that are no longer live, found by
// RunKey, that were created through this host.
func clean(ctx context.Context, t driver.Target, live driver.Live, limit int) (*host.Output, error) {
	s, err := servers.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	list, err := s.Instances(ctx)
	if err != nil {
		return nil, err
	}
	var leftovers []driver.Leftover
	for _, i := range list {
		run, owner := i.Config[RunKey], i.Config[HostKey]
		switch {
		case run == "":
			continue // not everywhere's
		case owner != "" && owner != t.Host().Name:
			continue // created through another host sharing this LXD: its to clean
		}
		leftovers = append(leftovers, driver.Leftover{Name: "instance " + i.Name, Run: run,
			Remove: func(ctx context.Context) error {
				if err := s.Delete(ctx, i.Name); err != nil && !IsNotFound(err) {
					return fmt.Errorf("deleting instance %s: %w", i.Name, err)
				}
				return nil
			}})
	}
	return driver.Sweep(ctx, leftovers, live, "deleted", "no instance to delete", limit)
}
