// Package shell is the driver of shell text run over a host's SSH
// connection: the `shell` step kind, and the probe of what the host is.
package shell

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/yamlfile"
)

// Kind is the plan keyword of a shell step: `shell: uname -a`, or with
// options `shell: {command: apt-get update, sudo: true, tty: true}`.
const Kind = "shell"

// New is the shell driver.
func New() *driver.Driver {
	return &driver.Driver{
		Name:  "shell",
		Kinds: []driver.Kind{{Name: Kind, Parse: parse}},
		Probe: probe,
	}
}

// Script is shell text run by the user's shell on the host.
type Script string

func parse(kind, file string, node *yaml.Node) (driver.Action, error) {
	if node.Kind == yaml.MappingNode {
		return driver.Decode[Command](kind, file, node)
	}
	if node.Kind != yaml.ScalarNode || strings.TrimSpace(node.Value) == "" {
		return nil, yamlfile.Errorf(file, node, "%s: want the command text, e.g. %s: uname -a", kind, kind)
	}
	return Script(node.Value), nil
}

// Command is the shell text.
func (s Script) Command() string { return string(s) }

// Run executes the text in a new session on the host's connection.
func (s Script) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	return t.Exec(ctx, string(s), limit)
}

// Command is shell text with what it needs to run: sudo, a terminal,
// standard input.
type Command struct {
	Text string `yaml:"command"`
	// Sudo runs the text as root through sudo -n, which fails rather than
	// ask for a password: a step asks nobody.
	Sudo bool `yaml:"sudo"`
	// TTY gives the command a pseudo-terminal (its stderr then arrives in
	// its stdout, as on a terminal).
	TTY bool `yaml:"tty"`
	// Stdin is sent to the command as its standard input (exec --stdin).
	Stdin []byte `yaml:"-"`
}

// Validate checks a decoded shell: {…} mapping.
func (c *Command) Validate() error {
	if strings.TrimSpace(c.Text) == "" {
		return fmt.Errorf("command: missing, e.g. {command: apt-get update, sudo: true}")
	}
	return nil
}

// Command is the shell text, "sudo " before it when run through sudo.
func (c *Command) Command() string {
	if c.Sudo {
		return "sudo " + c.Text
	}
	return c.Text
}

// sudoRefused is the start of what sudo -n says when it would have asked
// for a password (sudo's "a password is required", exit status 1).
const sudoRefused = "sudo: a password is required"

// Run executes the command in a new session on the host's connection.
func (c *Command) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	text := c.Text
	if c.Sudo {
		text = host.ShellQuote([]string{"sudo", "-n", "--", "sh", "-c", c.Text})
	}
	opts := host.ExecOptions{TTY: c.TTY}
	if c.Stdin != nil {
		opts.Stdin = bytes.NewReader(c.Stdin) // a reader of its own for each host
	}
	out, err := t.ExecWith(ctx, text, opts, limit)
	if err != nil || !c.Sudo {
		return out, err
	}
	said := out.Stderr.String() + out.Stdout.String() // a terminal's one stream is stdout
	switch {
	case out.ExitCode == 1 && strings.Contains(said, sudoRefused):
		return out, fmt.Errorf("sudo -n: user %s needs a password for sudo on this host, and a step asks nobody: allow it NOPASSWD in sudoers, or connect as root", t.Host().User)
	case out.ExitCode == 127 && (strings.Contains(said, "sudo: not found") || strings.Contains(said, "sudo: command not found")):
		return out, fmt.Errorf("sudo: not installed on this host")
	}
	return out, nil
}

// probeScript asks, in one session, what `everywhere hosts` shows of the
// host itself: one answer a line.
const probeScript = `uname -m; uname -r; (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s`

func probe(ctx context.Context, t driver.Target) host.Facts {
	out, err := t.Exec(ctx, probeScript, 4096)
	if err != nil {
		return driver.Unavailable(err)
	}
	if out.ExitCode != 0 {
		return driver.Unavailable(fmt.Errorf("%s: exit status %d: %s", probeScript, out.ExitCode, strings.TrimSpace(out.Stderr.String())))
	}
	lines := append(strings.Split(strings.TrimSpace(out.Stdout.String()), "\n"), "", "", "")
	return host.Facts{Available: true, Arch: lines[0], Version: lines[1], OS: lines[2]}
}
