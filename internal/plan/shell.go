package plan

import (
	"context"
	"strings"

	"gopkg.in/yaml.v3"

	"everywhere/internal/host"
	"everywhere/internal/yamlfile"
)

// Shell runs shell text on the host over SSH: `shell: uname -a`.
type Shell struct{ Script string }

func init() { Register("shell", parseShell) }

func parseShell(file string, node *yaml.Node) (Action, error) {
	if node.Kind != yaml.ScalarNode || strings.TrimSpace(node.Value) == "" {
		return nil, yamlfile.Errorf(file, node, "shell: want the command text, e.g. shell: uname -a")
	}
	return Shell{Script: node.Value}, nil
}

// Kind is "shell".
func (Shell) Kind() string { return "shell" }

// Command is the shell text.
func (s Shell) Command() string { return s.Script }

// Run executes the text in a new session on the host's connection.
func (s Shell) Run(ctx context.Context, target Target, limit int) (*host.Output, error) {
	return target.Exec(ctx, s.Script, limit)
}
