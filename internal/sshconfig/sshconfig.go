// Package sshconfig reads OpenSSH client configuration (ssh_config(5)) the
// way ssh does, so that a host ssh reaches by its alias is reached here too.
package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// None, given as the file, reads no configuration (ssh -F none).
const None = "none"

// Config is the configuration ssh would read: one file, or the user's and
// then the system's.
type Config struct {
	files   []string
	configs []*ssh_config.Config
}

// Load reads file; "" reads ~/.ssh/config then /etc/ssh/ssh_config, either
// of which may be missing, as ssh does; None reads nothing. A file named
// explicitly must exist, as with ssh -F.
func Load(file string) (*Config, error) {
	c := &Config{}
	switch file {
	case None:
		return c, nil
	case "":
		home, _ := os.UserHomeDir()
		for _, f := range []string{filepath.Join(home, ".ssh", "config"), "/etc/ssh/ssh_config"} {
			if err := c.add(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return c, nil
	}
	if err := c.add(file); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) add(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("ssh config: %w", err)
	}
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		// The parser's errors carry the line ("ssh_config: ... at line 3").
		return fmt.Errorf("ssh config %s: %w", file, err)
	}
	c.files = append(c.files, file)
	c.configs = append(c.configs, cfg)
	return nil
}

// Files are the files read, in the order ssh reads them.
func (c *Config) Files() []string { return c.files }

// Settings are what the configuration says of one host alias. Values that
// take tokens (%h, %r, ~) are kept as written: Expand them once the host's
// user and port are known. Zero values are settings the files leave unset.
type Settings struct {
	HostName              string // the alias itself when unset, as ssh
	User                  string
	Port                  int
	IdentityFiles         []string
	IdentitiesOnly        bool
	KnownHostsFile        string // UserKnownHostsFile's first file
	StrictHostKeyChecking string // yes, accept-new, no or ask (unset)
	ConnectTimeout        time.Duration
	ServerAliveInterval   time.Duration
	ProxyJump             string // "none" and unset alike are ""
	ProxyCommand          string
}

// Resolve returns the settings for alias, the first value obtained
// winning, as in ssh: files in order, Host blocks in file order.
func (c *Config) Resolve(alias string) (Settings, error) {
	s := Settings{HostName: alias}
	get := func(key string) (string, error) {
		for i, cfg := range c.configs {
			v, err := cfg.Get(alias, key)
			if err != nil {
				return "", fmt.Errorf("ssh config %s: %s: %w", c.files[i], key, err)
			}
			if v != "" {
				return v, nil
			}
		}
		return "", nil
	}
	var errs []error
	str := func(key string, into *string) {
		v, err := get(key)
		errs = append(errs, err)
		if v != "" {
			*into = v
		}
	}
	str("HostName", &s.HostName)
	s.HostName = strings.ReplaceAll(strings.ReplaceAll(s.HostName, "%h", alias), "%%", "%")
	str("User", &s.User)
	var port, identitiesOnly, knownHosts, timeout, alive string
	str("Port", &port)
	str("IdentitiesOnly", &identitiesOnly)
	str("UserKnownHostsFile", &knownHosts)
	str("StrictHostKeyChecking", &s.StrictHostKeyChecking)
	str("ConnectTimeout", &timeout)
	str("ServerAliveInterval", &alive)
	str("ProxyJump", &s.ProxyJump)
	str("ProxyCommand", &s.ProxyCommand)
	for i, cfg := range c.configs {
		all, err := cfg.GetAll(alias, "IdentityFile")
		if err != nil {
			errs = append(errs, fmt.Errorf("ssh config %s: IdentityFile: %w", c.files[i], err))
		}
		s.IdentityFiles = append(s.IdentityFiles, all...)
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, err
	}
	if fields := strings.Fields(knownHosts); len(fields) > 0 {
		s.KnownHostsFile = fields[0]
	}
	if strings.EqualFold(s.ProxyJump, "none") {
		s.ProxyJump = ""
	}
	if strings.EqualFold(s.ProxyCommand, "none") {
		s.ProxyCommand = ""
	}
	var err error
	if s.Port, err = number(alias, "Port", port); err != nil {
		return Settings{}, err
	}
	if s.IdentitiesOnly, err = yesNo(alias, "IdentitiesOnly", identitiesOnly); err != nil {
		return Settings{}, err
	}
	if s.StrictHostKeyChecking, err = hostKeyPolicy(alias, s.StrictHostKeyChecking); err != nil {
		return Settings{}, err
	}
	if s.ConnectTimeout, err = seconds(alias, "ConnectTimeout", timeout); err != nil {
		return Settings{}, err
	}
	if s.ServerAliveInterval, err = seconds(alias, "ServerAliveInterval", alive); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func number(alias, key, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("ssh config: host %s: %s %q is not a number", alias, key, v)
	}
	return n, nil
}

// seconds reads a time as ssh_config writes it: plain seconds, or with
// units as sshd_config's TIME FORMATS (30s, 1m30s); "none" is unset.
func seconds(alias, key, v string) (time.Duration, error) {
	if v == "" || strings.EqualFold(v, "none") {
		return 0, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(strings.ToLower(v))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("ssh config: host %s: %s %q is not a time (seconds)", alias, key, v)
	}
	return d, nil
}

func yesNo(alias, key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "no":
		return false, nil
	case "yes":
		return true, nil
	}
	return false, fmt.Errorf("ssh config: host %s: %s %q: use yes or no", alias, key, v)
}

// hostKeyPolicy normalises StrictHostKeyChecking's spellings to
// yes, accept-new, no or "" (ask, the default).
func hostKeyPolicy(alias, v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "ask":
		return "", nil
	case "yes", "true":
		return "yes", nil
	case "accept-new":
		return "accept-new", nil
	case "no", "off", "false":
		return "no", nil
	}
	return "", fmt.Errorf("ssh config: host %s: StrictHostKeyChecking %q: use yes, accept-new, no or ask", alias, v)
}

// Tokens are the values ssh substitutes for %-tokens in IdentityFile,
// UserKnownHostsFile and ProxyCommand.
type Tokens struct {
	Alias    string // %n: the name as given
	HostName string // %h
	Port     int    // %p
	User     string // %r: the remote user
}

// Expand substitutes %h, %p, %r, %n, %u (the local user), %d (the local
// home) and %% in s, and a leading ~, as ssh does; another token is an error
// rather than a guess.
func Expand(s string, t Tokens) (string, error) {
	home, _ := os.UserHomeDir()
	if s == "~" || strings.HasPrefix(s, "~/") {
		s = home + s[1:]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends in a lone %%", s)
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(t.HostName)
		case 'p':
			b.WriteString(strconv.Itoa(t.Port))
		case 'r':
			b.WriteString(t.User)
		case 'n':
			b.WriteString(t.Alias)
		case 'u':
			b.WriteString(localUser())
		case 'd':
			b.WriteString(home)
		default:
			return "", fmt.Errorf("%q: token %%%c is not supported (use %%h %%p %%r %%n %%u %%d %%%%)", s, s[i])
		}
	}
	return b.String(), nil
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
