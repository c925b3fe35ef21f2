// Package plan reads plans: ordered steps with expectations, plus cleanup
// steps that always run. A step's action is one of the registered kinds
// (shell here; docker.* and lxd.* register themselves), so adding a kind
// never touches the runner.
package plan

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/yamlfile"
)

// DefaultStepTimeout bounds a step when neither it nor its plan says otherwise.
const DefaultStepTimeout = 5 * time.Minute

// Plan is a named sequence of steps run on every host.
type Plan struct {
	Name    string
	File    string
	Timeout time.Duration // default per-step timeout
	Steps   []Step
	Cleanup []Step
}

// Step is one action with the expectations its result must meet.
type Step struct {
	Name     string
	Action   Action
	Expect   Expect
	Timeout  time.Duration
	Critical bool // when it does not succeed, the host's later steps are skipped
	Line     int
}

// Conn is one host's connection, as actions use it.
type Conn interface {
	Host() inventory.Host
	// Exec runs shell text on the host, keeping at most limit bytes per stream.
	Exec(ctx context.Context, command string, limit int) (*host.Output, error)
	// DialContext reaches a socket on the host's side (e.g. unix /var/run/docker.sock).
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	// Attach returns the client named key, opened on first use and closed
	// with the connection: how a Docker or LXD client is shared by steps.
	Attach(key string, open func() (io.Closer, error)) (io.Closer, error)
}

// Target is what an action runs against: a host's connection within a run.
type Target interface {
	Conn
	// RunID names the run, for labels on what it creates.
	RunID() string
}

// Action is what a step does. An error means the action could not be carried
// out (the host, transport or daemon failed); a command that ran and exited
// non-zero is an Output, not an error.
type Action interface {
	// Kind is the plan keyword, e.g. "shell".
	Kind() string
	// Command describes what runs, for reports.
	Command() string
	Run(ctx context.Context, target Target, limit int) (*host.Output, error)
}

// ErrNotApplicable, wrapped with the reason, says a step cannot apply to a
// host (an LXD that cannot run the host's architecture): the step is
// skipped with that reason, which is not a failure of the host.
var ErrNotApplicable = errors.New("not applicable here")

// ParseFunc builds an action from the value under its kind's key.
type ParseFunc func(file string, node *yaml.Node) (Action, error)

var (
	kindsMu sync.RWMutex
	kinds   = map[string]ParseFunc{}
)

// Register makes a step kind available to plans. It panics on a duplicate,
// which is a programming error found at start-up.
func Register(kind string, parse ParseFunc) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[kind]; dup {
		panic("plan: step kind registered twice: " + kind)
	}
	kinds[kind] = parse
}

// Kinds lists the registered step kinds, sorted.
func Kinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func parserFor(kind string) (ParseFunc, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	p, ok := kinds[kind]
	return p, ok
}

// Validator is implemented by actions that check their fields once decoded.
type Validator interface{ Validate() error }

// DecodeAction is the ParseFunc of an action whose YAML is its struct's
// fields: decoded strictly (unknown keys are errors), then validated. An
// empty value (`docker.version:`) decodes as no fields.
func DecodeAction[T any, P interface {
	*T
	Action
}](file string, node *yaml.Node) (Action, error) {
	var action T
	if node.Tag == "!!null" {
		node = &yaml.Node{Kind: yaml.MappingNode, Line: node.Line}
	}
	if err := yamlfile.Decode(file, node, &action); err != nil {
		return nil, err
	}
	if v, ok := any(&action).(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, yamlfile.Errorf(file, node, "%s: %v", P(&action).Kind(), err)
		}
	}
	return P(&action), nil
}

//go:embed default.yaml
var defaultPlan []byte

// Default is the built-in plan: the seed sequence of the demo. It uses the
// docker.* kinds, so a program calling it imports internal/docker.
func Default() (*Plan, error) {
	return Parse("(built-in default plan)", defaultPlan)
}

// Load reads and validates a plan file.
func Load(file string) (*Plan, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return Parse(file, data)
}

type rawPlan struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"timeout"`
	Steps   yaml.Node     `yaml:"steps"`
	Cleanup yaml.Node     `yaml:"cleanup"`
}

// Parse validates a plan; file names it in errors.
func Parse(file string, data []byte) (*Plan, error) {
	root, err := yamlfile.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var raw rawPlan
	if err := yamlfile.Decode(file, root, &raw); err != nil {
		return nil, err
	}
	if raw.Timeout < 0 {
		return nil, yamlfile.Errorf(file, root, "timeout must not be negative")
	}
	p := &Plan{Name: raw.Name, File: file, Timeout: raw.Timeout}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(strings.TrimSuffix(fileBase(file), ".yaml"), ".yml")
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultStepTimeout
	}
	if p.Steps, err = parseSteps(file, "steps", &raw.Steps); err != nil {
		return nil, err
	}
	if len(p.Steps) == 0 {
		return nil, yamlfile.Errorf(file, root, "no steps: the plan needs a steps: list")
	}
	if p.Cleanup, err = parseSteps(file, "cleanup", &raw.Cleanup); err != nil {
		return nil, err
	}
	return p, nil
}

func fileBase(file string) string {
	if i := strings.LastIndex(file, "/"); i >= 0 {
		return file[i+1:]
	}
	return file
}

func parseSteps(file, section string, list *yaml.Node) ([]Step, error) {
	if list.Kind == 0 {
		return nil, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, yamlfile.Errorf(file, list, "%s: want a list of steps", section)
	}
	var steps []Step
	names := map[string]int{}
	for i, node := range list.Content {
		s, err := parseStep(file, node)
		if err != nil {
			return nil, fmt.Errorf("%w (%s[%d])", err, section, i)
		}
		if first, dup := names[s.Name]; dup {
			return nil, yamlfile.Errorf(file, node, "%s[%d]: duplicate step name %q (first at line %d); give the step a name:", section, i, s.Name, first)
		}
		names[s.Name] = node.Line
		steps = append(steps, s)
	}
	return steps, nil
}

type rawStep struct {
	Name     string        `yaml:"name"`
	Expect   rawExpect     `yaml:"expect"`
	Timeout  time.Duration `yaml:"timeout"`
	Critical bool          `yaml:"critical"`
}

var commonStepKeys = map[string]bool{"name": true, "expect": true, "timeout": true, "critical": true}

func parseStep(file string, node *yaml.Node) (Step, error) {
	if node.Kind != yaml.MappingNode {
		return Step{}, yamlfile.Errorf(file, node, "a step is a mapping such as {name: kernel, shell: uname -a}")
	}
	common := &yaml.Node{Kind: yaml.MappingNode, Line: node.Line, Column: node.Column}
	var kindKey, kindValue *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		if commonStepKeys[key.Value] {
			common.Content = append(common.Content, key, value)
			continue
		}
		if _, ok := parserFor(key.Value); !ok {
			return Step{}, yamlfile.Errorf(file, key, "unknown step field or kind %q (fields: critical, expect, name, timeout; kinds: %s)", key.Value, strings.Join(Kinds(), ", "))
		}
		if kindKey != nil {
			return Step{}, yamlfile.Errorf(file, key, "step has two actions, %q and %q: use one per step", kindKey.Value, key.Value)
		}
		kindKey, kindValue = key, value
	}
	if kindKey == nil {
		return Step{}, yamlfile.Errorf(file, node, "step has no action (kinds: %s)", strings.Join(Kinds(), ", "))
	}
	var raw rawStep
	if err := yamlfile.Decode(file, common, &raw); err != nil {
		return Step{}, err
	}
	parse, _ := parserFor(kindKey.Value)
	action, err := parse(file, kindValue)
	if err != nil {
		return Step{}, err
	}
	expect, err := raw.Expect.compile(file, fieldNode(node, "expect"))
	if err != nil {
		return Step{}, err
	}
	if raw.Timeout < 0 {
		return Step{}, yamlfile.Errorf(file, fieldNode(node, "timeout"), "timeout must not be negative")
	}
	name := raw.Name
	if name == "" {
		name = action.Command()
	}
	return Step{Name: name, Action: action, Expect: expect, Timeout: raw.Timeout, Critical: raw.Critical, Line: node.Line}, nil
}

// fieldNode is the value node of key in a step mapping, or the step itself,
// to point an error at the most precise line there is.
func fieldNode(node *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return node
}

// TimeoutFor is the bound on step s under plan p.
func (p *Plan) TimeoutFor(s Step) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return p.Timeout
}

// Command is a one-step plan that runs argv on every host: what
// `everywhere exec` broadcasts. A single argument is shell text, as with
// ssh; several are quoted so each arrives as one argument.
func Command(argv []string) *Plan {
	text := argv[0]
	if len(argv) > 1 {
		text = host.ShellQuote(argv)
	}
	return &Plan{Name: "exec", Timeout: DefaultStepTimeout, Steps: []Step{{Name: text, Action: Shell{Script: text}}}}
}

// DefaultSource is the built-in plan's YAML, to show users and to copy.
func DefaultSource() string { return string(defaultPlan) }
