package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lxdclient"
	"everywhere/internal/yamlfile"
)

// Options make a driver of the REST API 1.0 that LXD and Incus share.
// Name is the driver's, its inventory block's and its step kinds' prefix
// (lxd.launch, incus.launch).
type Options struct {
	Name    string   // default "lxd"
	Product string   // how messages name the server: "LXD", "Incus"
	CLI     string   // the command a step is described as: "lxc", "incus"
	Sockets []string // the server's unix sockets on a host, tried in order
	// Images gives lxd.docker_run the images of the host's own Docker
	// engine; nil: the step copies none.
	Images ImageSource
}

// ImageSource streams an image of a host's engine as a docker-archive:
// the docker driver's SaveImage.
type ImageSource interface {
	SaveImage(ctx context.Context, t driver.Conn, ref string) (io.ReadCloser, error)
}

// LXD is the options of LXD: the snap's socket, then Debian's. images is
// the host's Docker, for lxd.docker_run.
func LXD(images ImageSource) Options {
	return Options{Name: "lxd", Product: "LXD", CLI: "lxc", Images: images,
		Sockets: []string{"/var/snap/lxd/common/lxd/unix.socket", "/var/lib/lxd/unix.socket"}}
}

// Incus is the options of Incus, LXD's fork (Debian's since trixie): the
// same API 1.0 on its own socket. Its images are named as on Incus's own
// image server (debian/12, not ubuntu:…); everywhere fetches from none.
func Incus(images ImageSource) Options {
	return Options{Name: "incus", Product: "Incus", CLI: "incus", Images: images,
		Sockets: []string{"/var/lib/incus/unix.socket"}}
}

// Driver is one LXD-API driver: the value the registry lists (its
// embedded driver.Driver), and each host connection's client and launches.
type Driver struct {
	*driver.Driver
	opts     Options
	block    inventory.Block[Config]
	servers  *driver.PerConn[*server]
	launches *driver.PerConn[*launchState]
}

// New makes the driver o describes; zero Options are LXD's without images.
func New(o Options) *Driver {
	if o.Name == "" {
		o = LXD(nil)
	}
	d := &Driver{opts: o}
	d.block = inventory.NewBlock(o.Name, d.decodeConfig)
	d.servers = driver.NewPerConn(d.open)
	d.launches = driver.NewPerConn(func(context.Context, driver.Conn) (*launchState, error) { return &launchState{}, nil })
	d.Driver = &driver.Driver{
		Name: o.Name,
		Kinds: []driver.Kind{
			driver.BoundKind[Launch](o.Name+".launch", d),
			driver.BoundKind[List](o.Name+".list", d),
			driver.BoundKind[Exec](o.Name+".exec", d),
			driver.BoundKind[Delete](o.Name+".delete", d),
			driver.BoundKind[DockerRun](o.Name+".docker_run", d),
		},
		Block:      d.block,
		Probe:      d.probe,
		Clean:      d.clean,
		Containers: d.startContainer,
	}
	return d
}

// Block is the driver's block of a host's inventory entry.
func (d *Driver) Block() inventory.Block[Config] { return d.block }

// RunKey is the instance config key that carries the id of the run that
// created the instance: what lets a run touch only its own instances, and
// `everywhere clean` find what killed runs left.
const RunKey = "user.everywhere.run"

// Config is a host's `lxd:` (`incus:`) block: its unix socket through the
// SSH connection (by default the Options' sockets), or an HTTPS remote with
// a client certificate, as `lxc remote add` sets up.
type Config struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"` // https://HOST:8443
	ClientCert string `yaml:"client_cert"`
	ClientKey  string `yaml:"client_key"`
	ServerCert string `yaml:"server_cert"` // pinned; without it the system's roots verify the server
}

func (d *Driver) decodeConfig(src inventory.BlockSource) (Config, error) {
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

// server is a host's LXD (Incus), shared by the host's steps within a run.
type server struct {
	*lxdclient.Client
	info    *lxdclient.Server
	product string

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

// connect returns the host's LXD, opened on first use. It also checks that
// the server can run the host's architecture: where it cannot (the built-in
// lab's LXD runs only x86_64 and i686), the step does not apply.
func (d *Driver) connect(ctx context.Context, t driver.Conn) (*server, error) {
	s, err := d.servers.Get(ctx, t)
	if err != nil {
		return nil, err
	}
	arch := t.Host().Arch
	if !s.runs(arch) {
		return nil, fmt.Errorf("%w: %s at %s runs %s only, not %s (%s)", driver.ErrNotApplicable, s.product, s.Where(),
			strings.Join(s.info.Environment.Architectures, ", "), arch.Kernel(), arch)
	}
	return s, nil
}

func (d *Driver) open(ctx context.Context, t driver.Conn) (*server, error) {
	cfg := d.block.Of(t.Host())
	if cfg.URL != "" {
		c, err := lxdclient.NewHTTPS(lxdclient.Remote{URL: cfg.URL, ClientCert: cfg.ClientCert, ClientKey: cfg.ClientKey, ServerCert: cfg.ServerCert})
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", d.opts.Product, cfg.URL, err)
		}
		info, err := c.Server(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", d.opts.Product, cfg.URL, err)
		}
		if info.Auth != "trusted" {
			return nil, fmt.Errorf("%s at %s does not trust this client certificate (%s config trust add)", d.opts.Product, cfg.URL, d.opts.CLI)
		}
		return &server{Client: c, info: info, product: d.opts.Product}, nil
	}
	sockets := d.opts.Sockets
	if cfg.Socket != "" {
		sockets = []string{cfg.Socket}
	}
	var errs []error
	for _, socket := range sockets {
		c := lxdclient.NewUnix(t.DialContext, socket)
		info, err := c.Server(ctx)
		if err == nil {
			return &server{Client: c, info: info, product: d.opts.Product}, nil
		}
		errs = append(errs, err)
	}
	return nil, d.diagnose(ctx, t, sockets, errors.Join(errs...))
}

// diagnose says why no socket answered: OpenSSH reports a missing socket and
// a forbidden one alike.
func (d *Driver) diagnose(ctx context.Context, t driver.Conn, sockets []string, err error) error {
	probe := "for s in " + host.ShellQuote(sockets) + `; do if [ -S "$s" ]; then if [ -w "$s" ]; then echo "ok $s"; else echo "denied $s"; fi; fi; done`
	out, probeErr := t.Exec(ctx, probe, 1024)
	if probeErr == nil {
		for _, line := range strings.Split(strings.TrimSpace(out.Stdout.String()), "\n") {
			if socket, denied := strings.CutPrefix(line, "denied "); denied {
				return fmt.Errorf("permission denied on %s: add user %q to the %s group", socket, t.Host().User, d.opts.Name)
			}
		}
		if strings.TrimSpace(out.Stdout.String()) == "" {
			return driver.Absent(fmt.Errorf("no %s socket on the host (tried %s): is %s installed and initialised (%s init)?", d.opts.Product, strings.Join(sockets, ", "), d.opts.Product, d.opts.Name))
		}
	}
	return fmt.Errorf("%s (tried %s): %w", d.opts.Product, strings.Join(sockets, ", "), err)
}

func (d *Driver) probe(ctx context.Context, t driver.Target) host.Facts {
	s, err := d.servers.Get(ctx, t)
	if err != nil {
		return driver.Unavailable(err)
	}
	facts := host.Facts{Available: true, Version: s.info.Environment.ServerVersion, API: s.info.APIVersion,
		Arch: strings.Join(s.info.Environment.Architectures, ",")}
	if arch := t.Host().Arch; !s.runs(arch) {
		facts.Note = fmt.Sprintf("%s cannot run %s (%s) instances here", d.opts.Product, arch.Kernel(), arch)
	}
	if server := s.info.Environment.Server; server != "" && !strings.EqualFold(server, d.opts.Product) {
		facts.Note = strings.TrimPrefix(facts.Note+"; this is "+server+" "+s.info.Environment.ServerVersion, "; ")
	}
	return facts
}

// clean deletes the instances of runs that are no longer live, found by
// RunKey, that were created through this host.
func (d *Driver) clean(ctx context.Context, t driver.Target, live driver.Live, limit int) (*host.Output, error) {
	s, err := d.servers.Get(ctx, t)
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
				if err := s.Delete(ctx, i.Name); err != nil && !lxdclient.IsNotFound(err) {
					return fmt.Errorf("deleting instance %s: %w", i.Name, err)
				}
				return nil
			}})
	}
	return driver.Sweep(ctx, leftovers, live, "deleted", "no instance to delete", limit)
}
