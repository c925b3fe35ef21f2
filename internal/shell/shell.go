// Package shell is the driver of shell text run over a host's SSH
// connection: the `shell` step kind, and the probe of what the host is.
package shell

import (
	"context"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/yamlfile"
)

// Kind is the plan keyword of a shell step: `shell: uname -a`.
const Kind = "shell"

func init() {
	driver.Register(&driver.Driver{
		Name:  "shell",
		Kinds: []driver.Kind{{Name: Kind, Parse: parse}},
		Probe: probe,
	})
}

// Script is shell text run by the user's shell on the host.
type Script string

func parse(kind, file string, node *yaml.Node) (driver.Action, error) {
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
