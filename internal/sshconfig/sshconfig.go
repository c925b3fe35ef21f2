// Package sshconfig resolves a host alias as OpenSSH's client does
// (ssh_config(5)): where ssh is installed by asking it (ssh -G), elsewhere
// with a resolver of its own that follows OpenSSH 9.2's readconf.c for
// every keyword everywhere uses, and refuses with file:line what it cannot
// evaluate.
package sshconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// None, given as the file, reads no configuration (ssh -F none).
const None = "none"

// Resolvers: which one answers is chosen by Options.Resolver, else by
// $EVERYWHERE_SSH_RESOLVER, else OpenSSH where ssh is on $PATH.
const (
	ResolverAuto    = ""
	ResolverOpenSSH = "openssh" // ssh -G, once per alias, user and port
	ResolverBuiltin = "builtin" // everywhere's own, no ssh needed
)

// ResolverEnv names the environment variable that forces a resolver.
const ResolverEnv = "EVERYWHERE_SSH_RESOLVER"

// DefaultTimeout bounds one ssh -G (its Match exec commands included).
const DefaultTimeout = 10 * time.Second

// Options choose the resolver and how long ssh -G may take.
type Options struct {
	Resolver string        // ResolverAuto, ResolverOpenSSH or ResolverBuiltin
	Timeout  time.Duration // per ssh -G; 0: DefaultTimeout
	SSH      string        // the ssh program; empty: "ssh" from $PATH
}

// Config is the configuration ssh would read: one file (ssh -F), or the
// user's ~/.ssh/config and then /etc/ssh/ssh_config.
type Config struct {
	file     string // as given: "", None or a path
	resolver string // ResolverOpenSSH or ResolverBuiltin
	ssh      string
	timeout  time.Duration
	files    []*file // the builtin's parsed top-level files, in order
	// lookupHost resolves names for CanonicalizeHostname.
	lookupHost func(ctx context.Context, host string) ([]string, error)

	mu    sync.Mutex
	cache map[Query]*pending
}

// pending is one resolution, shared by every caller asking the same.
type pending struct {
	done chan struct{}
	s    Settings
	err  error
}

// Load reads file with the resolver the environment selects; see LoadWith.
func Load(file string) (*Config, error) { return LoadWith(file, Options{}) }

// LoadWith reads file ("": ~/.ssh/config then /etc/ssh/ssh_config, either of
// which may be missing, as ssh does; None: nothing). A file named
// explicitly must exist, as with ssh -F. The builtin resolver parses every
// file now; OpenSSH's is asked per alias, when one is resolved.
func LoadWith(file string, o Options) (*Config, error) {
	c := &Config{file: file, resolver: o.Resolver, ssh: o.SSH, timeout: o.Timeout, cache: map[Query]*pending{},
		lookupHost: net.DefaultResolver.LookupHost}
	if c.resolver == ResolverAuto {
		c.resolver = os.Getenv(ResolverEnv)
	}
	if c.ssh == "" {
		c.ssh = "ssh"
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch c.resolver {
	case ResolverAuto:
		// With no file (ssh -F none) there is nothing to disagree on, and
		// ssh -G per host would cost a 20,000-host fleet minutes.
		c.resolver = ResolverBuiltin
		if _, err := exec.LookPath(c.ssh); err == nil && file != None {
			c.resolver = ResolverOpenSSH
		}
	case ResolverOpenSSH:
		if _, err := exec.LookPath(c.ssh); err != nil {
			return nil, fmt.Errorf("ssh config: resolver %s: %w (install openssh-client, or set %s=%s)", ResolverOpenSSH, err, ResolverEnv, ResolverBuiltin)
		}
	case ResolverBuiltin:
	default:
		return nil, fmt.Errorf("ssh config: resolver %q: use %s or %s (%s)", c.resolver, ResolverOpenSSH, ResolverBuiltin, ResolverEnv)
	}
	if file != "" && file != None {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("ssh config: %w", err)
		}
		f.Close()
	}
	// The builtin parses the files even where OpenSSH resolves: it says
	// where each value came from (file:line).
	files, err := c.parseFiles()
	if err != nil && c.resolver == ResolverBuiltin {
		return nil, err
	}
	c.files = files
	return c, nil
}

// parseFiles reads the files ssh would read, Includes and all.
func (c *Config) parseFiles() ([]*file, error) {
	switch c.file {
	case None:
		return nil, nil
	case "":
		var files []*file
		home, _ := os.UserHomeDir()
		for _, f := range []struct {
			path string
			user bool
		}{{filepath.Join(home, ".ssh", "config"), true}, {"/etc/ssh/ssh_config", false}} {
			parsed, err := readFile(f.path, f.user, f.user, 0)
			if err != nil {
				return nil, err
			}
			if parsed != nil {
				files = append(files, parsed)
			}
		}
		return files, nil
	}
	parsed, err := readFile(c.file, true, false, 0)
	if err != nil {
		return nil, err
	}
	return []*file{parsed}, nil
}

// Query is what a host is resolved for: its alias, and the user and port
// given outside the config (the inventory's, as ssh -l and -p give them),
// which Match user and %r, %p see.
type Query struct {
	Alias string
	User  string // empty: the config's, else the local user
	Port  int    // 0: the config's, else 22
}

// Settings are what ssh would use to reach one host. IdentityFiles,
// CertificateFiles and ProxyCommand are as ssh -G prints them, tokens not
// yet expanded (see Expand); the rest are final.
type Settings struct {
	Alias                 string
	HostName              string
	User                  string
	Port                  int
	IdentityFiles         []string // ssh's defaults when the config names none
	CertificateFiles      []string
	IdentitiesOnly        bool
	IdentityAgent         string   // empty: $SSH_AUTH_SOCK; "none": no agent
	UserKnownHostsFiles   []string // expanded; none: empty
	GlobalKnownHostsFiles []string // expanded; none: empty
	HostKeyAlias          string
	StrictHostKeyChecking string // yes, accept-new, no or "" (ask)
	ConnectTimeout        time.Duration
	ServerAliveInterval   time.Duration
	ProxyJump             string // "none" and unset alike are ""
	ProxyCommand          string
	// Origins say where each setting came from, by ssh -G's key
	// ("hostname", "identityfile", …): "file:line", or a word such as
	// "default".
	Origins map[string]string
	// Resolver is the resolver that answered.
	Resolver string
}

// Resolve is ResolveFor(Query{Alias: alias}).
func (c *Config) Resolve(alias string) (Settings, error) {
	return c.ResolveFor(context.Background(), Query{Alias: alias})
}

// ResolveFor resolves q once for the Config's life: callers asking the
// same wait for one answer.
func (c *Config) ResolveFor(ctx context.Context, q Query) (Settings, error) {
	c.mu.Lock()
	p, ok := c.cache[q]
	if !ok {
		p = &pending{done: make(chan struct{})}
		c.cache[q] = p
		c.mu.Unlock()
		p.s, p.err = c.resolve(ctx, q)
		close(p.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return Settings{}, ctx.Err()
	}
	return cloneSettings(p.s), p.err
}

// Prefetch resolves every query at once, limit at a time, so that the
// ssh -G runs of a large inventory overlap; their answers are cached for
// ResolveFor. Errors are kept for ResolveFor to return.
func (c *Config) Prefetch(ctx context.Context, queries []Query, limit int) {
	if c.resolver != ResolverOpenSSH {
		return
	}
	if limit <= 0 {
		limit = 8
	}
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, q := range queries {
		if q.Alias == "" {
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			_, _ = c.ResolveFor(ctx, q)
		}()
	}
	wg.Wait()
}

func (c *Config) resolve(ctx context.Context, q Query) (Settings, error) {
	if c.resolver == ResolverOpenSSH {
		s, err := c.openSSH(ctx, q)
		if err != nil {
			return Settings{}, err
		}
		c.addOrigins(ctx, q, &s)
		return s, nil
	}
	return c.builtin(ctx, q)
}

// addOrigins takes from the builtin where each of ssh's values came from,
// where the builtin agrees on the value; elsewhere the origin is ssh -G.
func (c *Config) addOrigins(ctx context.Context, q Query, s *Settings) {
	s.Origins = map[string]string{}
	mine, err := c.builtinWith(ctx, q, true)
	for key, at := range mine.Origins {
		if err == nil && sameValue(key, mine, *s) {
			s.Origins[key] = at
		}
	}
}

func sameValue(key string, a, b Settings) bool {
	return a.Value(key) == b.Value(key)
}

// field is the setting under ssh -G's key, for comparisons.
func (s Settings) field(key string) any {
	switch key {
	case "hostname":
		return s.HostName
	case "user":
		return s.User
	case "port":
		return s.Port
	case "identityfile":
		return s.IdentityFiles
	case "certificatefile":
		return s.CertificateFiles
	case "identitiesonly":
		return s.IdentitiesOnly
	case "identityagent":
		return s.IdentityAgent
	case "userknownhostsfile":
		return s.UserKnownHostsFiles
	case "globalknownhostsfile":
		return s.GlobalKnownHostsFiles
	case "hostkeyalias":
		return s.HostKeyAlias
	case "stricthostkeychecking":
		return s.StrictHostKeyChecking
	case "connecttimeout":
		return s.ConnectTimeout
	case "serveraliveinterval":
		return s.ServerAliveInterval
	case "proxyjump":
		return s.ProxyJump
	case "proxycommand":
		return s.ProxyCommand
	}
	return nil
}

// Keys are ssh -G's names of the settings everywhere uses, in the order
// they are shown.
var Keys = []string{"hostname", "port", "user", "identityfile", "certificatefile", "identitiesonly", "identityagent",
	"userknownhostsfile", "globalknownhostsfile", "hostkeyalias", "stricthostkeychecking", "connecttimeout",
	"serveraliveinterval", "proxyjump", "proxycommand"}

// Value is the setting under ssh -G's key, as ssh -G prints it.
func (s Settings) Value(key string) string {
	switch v := s.field(key).(type) {
	case []string:
		if len(v) == 0 && strings.HasSuffix(key, "knownhostsfile") {
			return "none"
		}
		return strings.Join(v, " ")
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case time.Duration:
		if v == 0 && key == "connecttimeout" {
			return "none"
		}
		return strconv.Itoa(int(v / time.Second))
	case int:
		return strconv.Itoa(v)
	case string:
		if key == "stricthostkeychecking" {
			return map[string]string{"": "ask", "yes": "true", "no": "false", "accept-new": "accept-new"}[v]
		}
		return v
	}
	return ""
}

func cloneSettings(s Settings) Settings {
	s.IdentityFiles = append([]string(nil), s.IdentityFiles...)
	s.CertificateFiles = append([]string(nil), s.CertificateFiles...)
	s.UserKnownHostsFiles = append([]string(nil), s.UserKnownHostsFiles...)
	s.GlobalKnownHostsFiles = append([]string(nil), s.GlobalKnownHostsFiles...)
	origins := make(map[string]string, len(s.Origins))
	for k, v := range s.Origins {
		origins[k] = v
	}
	s.Origins = origins
	return s
}

// errorAt is an error in a config file at a line, worded as ssh words it.
type errorAt struct {
	file   string
	line   int
	reason string
}

func (e *errorAt) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("ssh config %s: %s", e.file, e.reason)
	}
	return fmt.Sprintf("ssh config %s:%d: %s", e.file, e.line, e.reason)
}

// ErrConfig is wrapped by every error that is the config's fault: ssh
// refuses it too.
var ErrConfig = errors.New("ssh config refused")

func (e *errorAt) Unwrap() error { return ErrConfig }
