// Package inventory reads inventories: the hosts to reach, their declared
// architecture and how to reach them, every default applied.
package inventory

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/sshconfig"
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
	Name     string
	Arch     host.Arch // empty: not declared, detected once connected
	Address  string
	Port     int
	User     string
	Identity string // private key file (identity:); empty means the ssh config's, ssh-agent and ~/.ssh defaults
	// ConfigIdentities are the ssh config's IdentityFiles, tried in order
	// when Identity is empty; one that is missing is passed over, as ssh does.
	ConfigIdentities []string
	IdentitiesOnly   bool // ssh config IdentitiesOnly: the agent's keys are not offered
	// Certificates are the ssh config's CertificateFiles, tokens expanded;
	// empty: each identity's -cert.pub beside it, as ssh offers them.
	Certificates []string
	// IdentityAgent is the ssh config's agent socket; empty: $SSH_AUTH_SOCK,
	// "none": no agent.
	IdentityAgent string
	// KnownHosts is the known_hosts file read first, and the one keys
	// learnt on first use go to; MoreKnownHosts are the others ssh reads,
	// in order: UserKnownHostsFile's others, then GlobalKnownHostsFile's.
	// Missing ones are passed over.
	KnownHosts     string
	MoreKnownHosts []string
	// HostKeyAlias is the name the host's key is recorded under, instead
	// of its address and port.
	HostKeyAlias string
	// Resolver is what resolved the ssh config: "openssh" (ssh -G) or
	// "builtin" (everywhere's own).
	Resolver string
	// Origins say where each setting came from ("hostname": "FILE:LINE",
	// "default", "inventory"), by ssh -G's key ("arch" too), for everywhere
	// hosts --resolve; an Ansible inventory's settings name the file:line
	// of the variable (host_vars, group_vars, the inventory) they came from.
	Origins map[string]string
	// HostKeyPolicy is ssh_config's StrictHostKeyChecking: "" (ask, which
	// a tool that asks nobody treats as yes), "yes", "accept-new" or "no".
	HostKeyPolicy  string
	ConnectTimeout time.Duration
	Keepalive      time.Duration
	// Jumps are the hosts to pass through, in order (ProxyJump), each
	// reached and verified as a host of its own.
	Jumps []Host
	// ProxyCommand, when set, is the command (run by sh) whose standard
	// input and output carry the connection, tokens already expanded.
	ProxyCommand string
	Labels       []string
	Line         int // where the host is declared, for error messages

	blocks map[string]any // each registered block, decoded (see Block)
}

// Addr is the host's address in host:port form.
func (h Host) Addr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// Inventory is the set of hosts read from one file.
type Inventory struct {
	File  string
	Hosts []Host
	// Warnings are what was read but is not followed: hosts left out of
	// the run (Ansible's that everywhere cannot reach the way Ansible
	// would), files passed over. Options.Strict makes them errors.
	Warnings []Warning
}

// Warning is something of an inventory read but not followed.
type Warning struct {
	File string
	Line int    // 0: the whole file
	Host string // the host left out; empty when the warning is not one host's
	Msg  string
}

func (w Warning) String() string {
	at := w.File
	if w.Line > 0 {
		at = fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	if w.Host != "" {
		return fmt.Sprintf("%s: host %q left out: %s", at, w.Host, w.Msg)
	}
	return fmt.Sprintf("%s: %s", at, w.Msg)
}

type settings struct {
	User           string        `yaml:"user"`
	Port           int           `yaml:"port"`
	Identity       string        `yaml:"identity"`
	KnownHosts     string        `yaml:"known_hosts"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	Keepalive      time.Duration `yaml:"keepalive"`
	ProxyJump      string        `yaml:"proxy_jump"`
}

// defaultSettings are the inventory's defaults: a host's settings, and
// which ssh_config file resolves the hosts' addresses.
type defaultSettings struct {
	settings  `yaml:",inline"`
	SSHConfig string `yaml:"ssh_config"`
}

type rawHost struct {
	Name     string   `yaml:"name"`
	Arch     string   `yaml:"arch"`
	Address  string   `yaml:"address"`
	Labels   []string `yaml:"labels"`
	settings `yaml:",inline"`
}

type rawInventory struct {
	Defaults defaultSettings `yaml:"defaults"`
	Hosts    []rawHost       `yaml:"hosts"`
}

var hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Options are the command line's say in reading an inventory.
type Options struct {
	// SSHConfig is the ssh_config file resolving the hosts' addresses
	// (sshconfig.None: none); empty: the inventory's defaults.ssh_config,
	// else what ssh reads by default.
	SSHConfig string
	// Blocks are the drivers' blocks a host entry may have (`docker:`,
	// `lxd:`): driver.Registry.Blocks. A key of a block not listed is an
	// unknown field.
	Blocks []BlockDecoder
	// SSHResolver forces how ssh_config is resolved (sshconfig.ResolverOpenSSH
	// or ResolverBuiltin); empty: $EVERYWHERE_SSH_RESOLVER, else ssh -G
	// where ssh is installed.
	SSHResolver string
	// PlaybookDir is a playbook's folder, whose group_vars/ and host_vars/
	// apply to an Ansible inventory's hosts above the inventory's own, as
	// with ansible-playbook (ansible-inventory --playbook-dir).
	PlaybookDir string
	// Strict refuses an inventory with Warnings (a host that cannot be
	// reached as Ansible would, a file passed over) instead of leaving
	// them out.
	Strict bool
}

// LoadInventory reads and validates an inventory file, resolving its
// addresses through the ssh config it names, else ssh's own.
func LoadInventory(file string) (*Inventory, error) { return Load(file, Options{}) }

// Load reads and validates an inventory file.
func Load(file string, opts Options) (*Inventory, error) {
	if info, err := os.Stat(file); err == nil && info.IsDir() {
		return parseAnsibleDir(file, opts) // as ansible -i FOLDER reads it
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return Parse(file, data, opts)
}

// ParseInventory is Parse with the default Options.
func ParseInventory(file string, data []byte) (*Inventory, error) {
	return Parse(file, data, Options{})
}

// Parse validates an inventory, in any Form (see Detect); file names it in
// errors and anchors its relative paths.
func Parse(file string, data []byte, opts Options) (*Inventory, error) {
	if form := Detect(file, data); form != FormEverywhere {
		return parseAnsible(file, data, form, opts)
	}
	root, err := yamlfile.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var raw rawInventory
	blocks := blockNames(opts.Blocks)
	if err := yamlfile.DecodeKnown(file, root, &raw, yamlfile.Extra{reflect.TypeOf(rawHost{}): blocks, reflect.TypeOf(settings{}): blocks, reflect.TypeOf(defaultSettings{}): blocks}); err != nil {
		return nil, err
	}
	hostNodes := mappingValue(root, "hosts")
	if hostNodes == nil || len(raw.Hosts) == 0 {
		return nil, yamlfile.Errorf(file, root, "no hosts: the inventory needs a hosts: list")
	}
	sshFile, sshNode := opts.SSHConfig, (*yaml.Node)(nil)
	if sshFile == "" && raw.Defaults.SSHConfig != "" {
		sshFile, sshNode = raw.Defaults.SSHConfig, mappingValue(mappingValue(root, "defaults"), "ssh_config")
		if sshFile != sshconfig.None {
			sshFile = resolvePath(filepath.Dir(file), sshFile)
		}
	}
	ssh, err := sshconfig.LoadWith(sshFile, sshconfig.Options{Resolver: opts.SSHResolver})
	switch {
	case err != nil && sshNode != nil:
		return nil, yamlfile.Errorf(file, sshNode, "defaults: ssh_config: %v", err)
	case err != nil:
		return nil, err
	}
	queries := make([]sshconfig.Query, len(raw.Hosts))
	for i, rh := range raw.Hosts {
		queries[i] = queryFor(rh.Address, rh.settings, raw.Defaults.settings)
	}
	ssh.Prefetch(context.Background(), queries, prefetchLimit)
	p := &parser{file: file, base: filepath.Dir(file), root: root, defaults: raw.Defaults.settings, resolver: resolver{ssh: ssh}, seen: map[string]int{}, blocks: opts.Blocks}
	inv := &Inventory{File: file}
	for i, rh := range raw.Hosts {
		h, err := p.host(i, resolveAlias(hostNodes.Content[i]), rh)
		if err != nil {
			return nil, err
		}
		inv.Hosts = append(inv.Hosts, h)
	}
	return inv, nil
}

// parser turns each raw host into a Host: identity checked, defaults
// applied, paths resolved, blocks decoded.
type parser struct {
	file, base string
	root       *yaml.Node
	defaults   settings
	resolver
	seen   map[string]int // host name → line
	blocks []BlockDecoder
}

func (p *parser) host(i int, node *yaml.Node, rh rawHost) (Host, error) {
	where := fmt.Sprintf("hosts[%d]", i)
	if rh.Name != "" {
		where = fmt.Sprintf("host %q", rh.Name)
	}
	at := func(field string) *yaml.Node {
		if v := mappingValue(node, field); v != nil {
			return v
		}
		return node
	}
	arch, err := p.identity(node, where, at, rh)
	if err != nil {
		return Host{}, err
	}
	own, defaults := rh.settings, p.defaults
	own.Identity, own.KnownHosts = resolvePath(p.base, own.Identity), resolvePath(p.base, own.KnownHosts)
	defaults.Identity, defaults.KnownHosts = resolvePath(p.base, defaults.Identity), resolvePath(p.base, defaults.KnownHosts)
	h, err := p.resolve(rh.Address, own, defaults, 0)
	if err != nil {
		return Host{}, yamlfile.Errorf(p.file, at("address"), "%s: %v", where, err)
	}
	h.Name, h.Arch, h.Labels, h.Line = rh.Name, arch, rh.Labels, node.Line
	if h.Port < 1 || h.Port > 65535 {
		portNode := at("port")
		if rh.Port == 0 {
			portNode = mappingValue(mappingValue(p.root, "defaults"), "port")
		}
		return Host{}, yamlfile.Errorf(p.file, portNode, "%s: port: %d is not in 1-65535", where, h.Port)
	}
	if h.ConnectTimeout < 0 || h.Keepalive < 0 {
		return Host{}, yamlfile.Errorf(p.file, node, "%s: connect_timeout and keepalive must not be negative", where)
	}
	if h.blocks, err = p.decodeBlocks(node, where); err != nil {
		return Host{}, err
	}
	return h, nil
}

// identity checks the host's name, arch and address.
func (p *parser) identity(node *yaml.Node, where string, at func(string) *yaml.Node, rh rawHost) (host.Arch, error) {
	switch {
	case rh.Name == "":
		return "", yamlfile.Errorf(p.file, node, "%s: name: missing", where)
	case !hostNamePattern.MatchString(rh.Name):
		return "", yamlfile.Errorf(p.file, at("name"), "%s: name: use letters, digits, '.', '_' and '-'", where)
	case p.seen[rh.Name] != 0:
		return "", yamlfile.Errorf(p.file, at("name"), "%s: name: duplicate (first declared at line %d)", where, p.seen[rh.Name])
	}
	p.seen[rh.Name] = node.Line
	if rh.Arch == "" && rh.Address == "" {
		return "", yamlfile.Errorf(p.file, node, "%s: address: missing", where)
	}
	if rh.Arch == "" {
		return "", nil // detected on the first connection (uname -m)
	}
	arch, err := host.ParseArch(rh.Arch)
	if err != nil {
		return "", yamlfile.Errorf(p.file, at("arch"), "%s: arch: %v", where, err)
	}
	if rh.Address == "" {
		return "", yamlfile.Errorf(p.file, node, "%s: address: missing", where)
	}
	return arch, nil
}

// decodeBlocks decodes every listed block for the host: its own, else the
// defaults', else none (the block's decoder then gives its defaults).
func (p *parser) decodeBlocks(node *yaml.Node, where string) (map[string]any, error) {
	blocks := slices.Clone(p.blocks)
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].Name() < blocks[j].Name() }) // a stable first error
	decoded := make(map[string]any, len(blocks))
	for _, b := range blocks {
		name := b.Name()
		value := mappingValue(node, name)
		if value == nil {
			value = mappingValue(mappingValue(p.root, "defaults"), name)
		}
		v, err := b.decodeAny(BlockSource{File: p.file, Base: p.base, Where: where + ": " + name, Node: value})
		if err != nil {
			return nil, err
		}
		decoded[name] = v
	}
	return decoded, nil
}

// mappingValue returns the value node under key in a mapping node, or nil.
// Keys merged in with `<<: *anchor` count, as yaml.v3 decodes them: the
// mapping's own keys first, then the merged ones in order.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	node = resolveAlias(node)
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		switch k, v := node.Content[i], resolveAlias(node.Content[i+1]); {
		case k.Value == key:
			return v
		case k.Value == "<<" && v.Kind == yaml.SequenceNode:
			merged = append(merged, v.Content...)
		case k.Value == "<<":
			merged = append(merged, v)
		}
	}
	for _, m := range merged {
		if v := mappingValue(m, key); v != nil {
			return v
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

func first[T comparable](values ...T) T {
	var zero T
	for _, v := range values {
		if v != zero {
			return v
		}
	}
	return zero
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
