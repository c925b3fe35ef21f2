// Package inventory reads inventories: the hosts to reach, their declared
// architecture and how to reach them, every default applied.
package inventory

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"everywhere/internal/host"
	"everywhere/internal/yamlfile"
)

// Defaults applied when neither a host nor the inventory's defaults say otherwise.
const (
	DefaultPort           = 22
	DefaultConnectTimeout = 10 * time.Second
	DefaultKeepalive      = 15 * time.Second
)

// Host is one machine to run a plan on, fully resolved: every default applied,
// every path absolute.
type Host struct {
	Name           string
	Arch           host.Arch
	Address        string
	Port           int
	User           string
	Identity       string // private key file; empty means ssh-agent and ~/.ssh defaults
	KnownHosts     string
	ConnectTimeout time.Duration
	Keepalive      time.Duration
	Labels         []string
	Docker         DockerConfig
	LXD            LXDConfig
	Line           int // where the host is declared, for error messages
}

// LXDConfig says how to reach a host's LXD: its unix socket through the SSH
// connection (by default the snap's, then Debian's path), or an HTTPS
// remote with a client certificate, as `lxc remote add` sets up.
type LXDConfig struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"` // https://HOST:8443
	ClientCert string `yaml:"client_cert"`
	ClientKey  string `yaml:"client_key"`
	ServerCert string `yaml:"server_cert"` // pinned; without it the system's roots verify the server
}

// DefaultDockerSocket is where Docker listens on a Linux host.
const DefaultDockerSocket = "/var/run/docker.sock"

// DockerConfig says how to reach a host's Docker engine: by default its
// unix socket, through the host's SSH connection (no port opened on the
// host); or a TCP endpoint, with TLS.
type DockerConfig struct {
	Socket string    `yaml:"socket"` // on the host, through SSH
	Host   string    `yaml:"host"`   // tcp://ADDRESS:2376, reached directly
	TLS    DockerTLS `yaml:"tls"`
}

// DockerTLS names the files of a TLS-protected Docker endpoint.
type DockerTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Addr is the host's address in host:port form.
func (h Host) Addr() string { return netJoin(h.Address, h.Port) }

// Inventory is the set of hosts read from one file.
type Inventory struct {
	File  string
	Hosts []Host
}

type settings struct {
	User           string        `yaml:"user"`
	Port           int           `yaml:"port"`
	Identity       string        `yaml:"identity"`
	KnownHosts     string        `yaml:"known_hosts"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	Keepalive      time.Duration `yaml:"keepalive"`
	Docker         DockerConfig  `yaml:"docker"`
	LXD            LXDConfig     `yaml:"lxd"`
}

type rawHost struct {
	Name     string   `yaml:"name"`
	Arch     string   `yaml:"arch"`
	Address  string   `yaml:"address"`
	Labels   []string `yaml:"labels"`
	settings `yaml:",inline"`
}

type rawInventory struct {
	Defaults settings  `yaml:"defaults"`
	Hosts    []rawHost `yaml:"hosts"`
}

var hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadInventory reads and validates an inventory file.
func LoadInventory(file string) (*Inventory, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return ParseInventory(file, data)
}

// ParseInventory validates an inventory; file names it in errors and anchors
// its relative paths.
func ParseInventory(file string, data []byte) (*Inventory, error) {
	root, err := yamlfile.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var raw rawInventory
	if err := yamlfile.Decode(file, root, &raw); err != nil {
		return nil, err
	}
	hostNodes := mappingValue(root, "hosts")
	if hostNodes == nil || len(raw.Hosts) == 0 {
		return nil, yamlfile.Errorf(file, root, "no hosts: the inventory needs a hosts: list")
	}
	base := filepath.Dir(file)
	inv := &Inventory{File: file}
	seen := map[string]int{}
	for i, rh := range raw.Hosts {
		node := resolveAlias(hostNodes.Content[i])
		at := func(field string) *yaml.Node {
			if v := mappingValue(node, field); v != nil {
				return v
			}
			return node
		}
		where := fmt.Sprintf("hosts[%d]", i)
		if rh.Name != "" {
			where = fmt.Sprintf("host %q", rh.Name)
		}
		switch {
		case rh.Name == "":
			return nil, yamlfile.Errorf(file, node, "%s: name: missing", where)
		case !hostNamePattern.MatchString(rh.Name):
			return nil, yamlfile.Errorf(file, at("name"), "%s: name: use letters, digits, '.', '_' and '-'", where)
		case seen[rh.Name] != 0:
			return nil, yamlfile.Errorf(file, at("name"), "%s: name: duplicate (first declared at line %d)", where, seen[rh.Name])
		}
		seen[rh.Name] = node.Line
		if rh.Arch == "" {
			return nil, yamlfile.Errorf(file, node, "%s: arch: missing (one of %s)", where, strings.Join(canonicalArchNames(), ", "))
		}
		arch, err := host.ParseArch(rh.Arch)
		if err != nil {
			return nil, yamlfile.Errorf(file, at("arch"), "%s: arch: %v", where, err)
		}
		if rh.Address == "" {
			return nil, yamlfile.Errorf(file, node, "%s: address: missing", where)
		}
		h := Host{
			Name:           rh.Name,
			Arch:           arch,
			Address:        rh.Address,
			Port:           first(rh.Port, raw.Defaults.Port, DefaultPort),
			User:           first(rh.User, raw.Defaults.User, currentUser()),
			Identity:       resolvePath(base, first(rh.Identity, raw.Defaults.Identity)),
			KnownHosts:     resolvePath(base, first(rh.KnownHosts, raw.Defaults.KnownHosts, "~/.ssh/known_hosts")),
			ConnectTimeout: first(rh.ConnectTimeout, raw.Defaults.ConnectTimeout, DefaultConnectTimeout),
			Keepalive:      first(rh.Keepalive, raw.Defaults.Keepalive, DefaultKeepalive),
			Labels:         rh.Labels,
			Docker:         first(rh.Docker, raw.Defaults.Docker),
			LXD:            first(rh.LXD, raw.Defaults.LXD),
			Line:           node.Line,
		}
		if h.Docker.Socket == "" && h.Docker.Host == "" {
			h.Docker.Socket = DefaultDockerSocket
		}
		if h.Docker.Socket != "" && h.Docker.Host != "" {
			return nil, yamlfile.Errorf(file, at("docker"), "%s: docker: give socket (through SSH) or host (direct), not both", where)
		}
		if h.LXD.Socket != "" && h.LXD.URL != "" {
			return nil, yamlfile.Errorf(file, at("lxd"), "%s: lxd: give socket (through SSH) or url (HTTPS), not both", where)
		}
		if h.LXD.URL != "" && (h.LXD.ClientCert == "" || h.LXD.ClientKey == "") {
			return nil, yamlfile.Errorf(file, at("lxd"), "%s: lxd: an url needs client_cert and client_key", where)
		}
		for _, f := range []*string{&h.Docker.TLS.CA, &h.Docker.TLS.Cert, &h.Docker.TLS.Key, &h.LXD.ClientCert, &h.LXD.ClientKey, &h.LXD.ServerCert} {
			*f = resolvePath(base, *f)
		}
		if h.Port < 1 || h.Port > 65535 {
			portNode := at("port")
			if rh.Port == 0 {
				portNode = mappingValue(mappingValue(root, "defaults"), "port")
			}
			return nil, yamlfile.Errorf(file, portNode, "%s: port: %d is not in 1-65535", where, h.Port)
		}
		if h.ConnectTimeout < 0 || h.Keepalive < 0 {
			return nil, yamlfile.Errorf(file, node, "%s: connect_timeout and keepalive must not be negative", where)
		}
		inv.Hosts = append(inv.Hosts, h)
	}
	return inv, nil
}

// mappingValue returns the value node under key in a mapping node, or nil.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	node = resolveAlias(node)
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return resolveAlias(node.Content[i+1])
		}
	}
	return nil
}

func resolveAlias(node *yaml.Node) *yaml.Node {
	for node != nil && node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	return node
}

func netJoin(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func first[T comparable](values ...T) T {
	var zero T
	for _, v := range values {
		if v != zero {
			return v
		}
	}
	return zero
}

func canonicalArchNames() []string {
	var names []string
	for _, a := range host.AllArchs() {
		names = append(names, string(a))
	}
	return names
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// resolvePath expands ~ and anchors relative paths at the inventory's folder.
func resolvePath(base, p string) string {
	switch {
	case p == "":
		return ""
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, _ := os.UserHomeDir()
		return filepath.Join(home, p[1:])
	case filepath.IsAbs(p):
		return p
	}
	return filepath.Join(base, p)
}

// Select returns the hosts matching sel, in inventory order. sel is a
// comma-separated list of terms: a bare word matches the host name (globs
// allowed), arch=A matches an architecture in any spelling, label=L a label.
// Terms of one kind are alternatives; terms of different kinds must all hold:
// "arch=arm64,arch=armhf,label=edge" selects ARM hosts labelled edge.
func (inv *Inventory) Select(sel string) ([]Host, error) {
	if strings.TrimSpace(sel) == "" {
		return inv.Hosts, nil
	}
	terms := map[string][]string{}
	for _, term := range strings.Split(sel, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		key, value, found := strings.Cut(term, "=")
		if !found {
			key, value = "name", term
		}
		switch key {
		case "name", "label":
		case "arch":
			a, err := host.ParseArch(value)
			if err != nil {
				return nil, fmt.Errorf("--hosts %q: %w", sel, err)
			}
			value = string(a)
		default:
			return nil, fmt.Errorf("--hosts %q: unknown selector %q (use NAME, name=GLOB, arch=ARCH or label=LABEL)", sel, key)
		}
		if key == "name" {
			if _, err := path.Match(value, ""); err != nil {
				return nil, fmt.Errorf("--hosts %q: bad pattern %q: %w", sel, value, err)
			}
		}
		terms[key] = append(terms[key], value)
	}
	var out []Host
	for _, h := range inv.Hosts {
		if h.matches(terms) {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		names := make([]string, len(inv.Hosts))
		for i, h := range inv.Hosts {
			names[i] = h.Name
		}
		sort.Strings(names)
		return nil, fmt.Errorf("--hosts %q matches no host in %s (hosts: %s)", sel, inv.File, strings.Join(names, ", "))
	}
	return out, nil
}

func (h Host) matches(terms map[string][]string) bool {
	for key, values := range terms {
		ok := false
		for _, v := range values {
			switch key {
			case "name":
				ok, _ = path.Match(v, h.Name)
			case "arch":
				ok = string(h.Arch) == v
			case "label":
				for _, l := range h.Labels {
					ok = ok || l == v
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
