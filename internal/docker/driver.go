package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/yamlfile"
)

func init() {
	driver.Register(&driver.Driver{
		Name: "docker",
		Kinds: []driver.Kind{
			{Name: "docker.version", Parse: driver.Decode[Version]},
			{Name: "docker.images", Parse: driver.Decode[Images]},
			{Name: "docker.run", Parse: driver.Decode[Run]},
			{Name: "docker.exec", Parse: driver.Decode[Exec]},
			{Name: "docker.rm", Parse: driver.Decode[Remove]},
		},
		Probe:      probe,
		Clean:      clean,
		Containers: startContainer,
	})
}

// DefaultSocket is where Docker listens on a Linux host.
const DefaultSocket = "/var/run/docker.sock"

// Config is a host's `docker:` block: how to reach its engine. By default
// its unix socket, through the host's SSH connection (no port opened on the
// host); or a TCP endpoint reached directly, with TLS.
type Config struct {
	Socket string `yaml:"socket"` // on the host, through SSH
	Host   string `yaml:"host"`   // tcp://ADDRESS:2376, reached directly
	TLS    TLS    `yaml:"tls"`
}

// TLS names the files of a TLS-protected Docker endpoint, or says, with
// `tls: false`, that the endpoint is knowingly plain TCP.
type TLS struct {
	CA       string `yaml:"ca"`
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	Disabled bool   `yaml:"-"` // tls: false
}

// UnmarshalYAML accepts `tls: false` besides the mapping of files.
func (t *TLS) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!bool" {
		var on bool
		if err := node.Decode(&on); err != nil {
			return err
		}
		if on {
			return errors.New("tls: true says nothing: give {ca, cert, key}, or false for plain TCP")
		}
		*t = TLS{Disabled: true}
		return nil
	}
	type files TLS // without this method
	var f files
	if err := node.Decode(&f); err != nil {
		return err
	}
	*t = TLS(f)
	return nil
}

func (t TLS) complete() bool { return t.CA != "" && t.Cert != "" && t.Key != "" }

// Block is every host's `docker:` block.
var Block = inventory.NewBlock("docker", decodeConfig)

func decodeConfig(src inventory.BlockSource) (Config, error) {
	var c Config
	if err := src.Decode(&c); err != nil {
		return Config{}, err
	}
	switch {
	case c.Socket != "" && c.Host != "":
		return Config{}, yamlfile.Errorf(src.File, src.Node, "%s: give socket (through SSH) or host (direct), not both", src.Where)
	case c.Socket == "" && c.Host == "":
		c.Socket = DefaultSocket
	case strings.HasPrefix(c.Host, "tcp://") && !c.TLS.complete() && !c.TLS.Disabled:
		return Config{}, yamlfile.Errorf(src.File, src.Node, "%s: %s without TLS would be plain, unauthenticated TCP: give tls: {ca, cert, key}, or tls: false to accept that", src.Where, c.Host)
	}
	c.TLS.CA, c.TLS.Cert, c.TLS.Key = src.Path(c.TLS.CA), src.Path(c.TLS.Cert), src.Path(c.TLS.Key)
	return c, nil
}

// plainTCP says whether the engine is reached over TCP without TLS.
func (c Config) plainTCP() bool { return strings.HasPrefix(c.Host, "tcp://") && c.TLS.Disabled }

func probe(ctx context.Context, t driver.Target) host.Facts {
	e, err := connect(ctx, t)
	if err != nil {
		return driver.Unavailable(err)
	}
	v := e.version
	facts := host.Facts{Available: true, Version: v.Version, API: v.APIVersion, Arch: v.Arch, OS: v.Os}
	facts.Note = e.note(t.Host().Arch)
	return facts
}

// clean removes the containers of runs that are no longer live, found by Label.
func clean(ctx context.Context, t driver.Target, live driver.Live, limit int) (*host.Output, error) {
	e, err := connect(ctx, t)
	if err != nil {
		return nil, err
	}
	list, err := e.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", Label))})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	leftovers := make([]driver.Leftover, len(list))
	for i, c := range list {
		leftovers[i] = driver.Leftover{Name: fmt.Sprintf("container %s (%s)", shortID(c.ID), c.Image), Run: c.Labels[Label],
			Remove: func(ctx context.Context) error {
				if err := e.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					return fmt.Errorf("removing container %s: %w", shortID(c.ID), err)
				}
				return nil
			}}
	}
	return driver.Sweep(ctx, leftovers, live, "removed", "no container to remove", limit)
}
