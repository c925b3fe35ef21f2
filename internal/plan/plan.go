// Package plan reads plans: ordered steps with expectations, plus cleanup
// steps that always run. A step's action is one of the kinds of the
// drivers the caller hands in (a driver.Registry: shell, docker.*,
// lxd.*, …), so adding a kind never touches the runner or this package.
package plan

import (
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/shell"
	"everywhere/internal/yamlfile"
)

// DefaultStepTimeout bounds a step when neither it nor its plan says otherwise.
const DefaultStepTimeout = 5 * time.Minute

// Plan is a named sequence of steps run on every host.
type Plan struct {
	Name    string
	File    string
	Timeout time.Duration // default per-step timeout
	// TimeoutScale multiplies the time limits on hosts its facts match
	// (timeout_scale: {emulated: 4}); a host's inventory entry may say
	// otherwise (see Scaled).
	TimeoutScale TimeoutScale
	Steps        []Step
	Cleanup      []Step
}

// Step is one action with the expectations its result must meet.
type Step struct {
	Name     string
	Kind     string // the plan keyword of Action, as its driver registered it
	Action   driver.Action
	Expect   Expect
	Timeout  time.Duration
	Critical bool // when it does not succeed, the host's later steps are skipped
	// Retries is how many more times the step runs when it is not ok
	// (retries:); -1 when the plan does not say, for --step-retries.
	Retries int
	Needs   []string // earlier steps it needs (needs:), for --rerun-failed --steps failed
	Line    int
}

// Load reads and validates a plan file, its steps of drivers' kinds.
func Load(file string, drivers *driver.Registry) (*Plan, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return Parse(file, data, drivers)
}

type rawPlan struct {
	Name         string        `yaml:"name"`
	Timeout      time.Duration `yaml:"timeout"`
	TimeoutScale TimeoutScale  `yaml:"timeout_scale"`
	Steps        yaml.Node     `yaml:"steps"`
	Cleanup      yaml.Node     `yaml:"cleanup"`
}

// Parse validates a plan, its steps of drivers' kinds; file names it in
// errors.
func Parse(file string, data []byte, drivers *driver.Registry) (*Plan, error) {
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
	if err := raw.TimeoutScale.check(); err != nil {
		return nil, yamlfile.Errorf(file, fieldNode(root, "timeout_scale"), "timeout_scale: %v", err)
	}
	p := &Plan{Name: raw.Name, File: file, Timeout: raw.Timeout, TimeoutScale: raw.TimeoutScale}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(strings.TrimSuffix(fileBase(file), ".yaml"), ".yml")
	}
	if p.Steps, err = parseSteps(drivers, file, "steps", &raw.Steps); err != nil {
		return nil, err
	}
	if len(p.Steps) == 0 {
		return nil, yamlfile.Errorf(file, root, "no steps: the plan needs a steps: list")
	}
	if p.Cleanup, err = parseSteps(drivers, file, "cleanup", &raw.Cleanup); err != nil {
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

func parseSteps(drivers *driver.Registry, file, section string, list *yaml.Node) ([]Step, error) {
	if list.Kind == 0 {
		return nil, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, yamlfile.Errorf(file, list, "%s: want a list of steps", section)
	}
	var steps []Step
	names := map[string]int{}
	for i, node := range list.Content {
		s, err := parseStep(drivers, file, node)
		if err != nil {
			return nil, fmt.Errorf("%w (%s[%d])", err, section, i)
		}
		if _, spans := s.Action.(driver.SpansHosts); spans && section == "cleanup" {
			return nil, yamlfile.Errorf(file, node, "%s[%d]: %s meets the run's other hosts, and in cleanup they have left: put it in steps", section, i, s.Kind)
		}
		if _, spans := s.Action.(driver.SpansHosts); spans && s.Retries > 0 {
			return nil, yamlfile.Errorf(file, fieldNode(node, "retries"), "%s[%d]: %s meets the run's other hosts once: it cannot be retried alone", section, i, s.Kind)
		}
		if first, dup := names[s.Name]; dup {
			return nil, yamlfile.Errorf(file, node, "%s[%d]: duplicate step name %q (first at line %d); give the step a name:", section, i, s.Name, first)
		}
		for _, need := range s.Needs {
			if _, earlier := names[need]; !earlier {
				return nil, yamlfile.Errorf(file, fieldNode(node, "needs"), "%s[%d]: needs %q, which is not an earlier step of %s", section, i, need, section)
			}
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
	Retries  *int          `yaml:"retries"`
	Needs    []string      `yaml:"needs"`
}

var commonStepKeys = map[string]bool{"name": true, "expect": true, "timeout": true, "critical": true, "retries": true, "needs": true}

func parseStep(drivers *driver.Registry, file string, node *yaml.Node) (Step, error) {
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
		if _, ok := drivers.Parser(key.Value); !ok {
			return Step{}, yamlfile.Errorf(file, key, "unknown step field or kind %q (fields: critical, expect, name, needs, retries, timeout; kinds: %s)", key.Value, strings.Join(drivers.Kinds(), ", "))
		}
		if kindKey != nil {
			return Step{}, yamlfile.Errorf(file, key, "step has two actions, %q and %q: use one per step", kindKey.Value, key.Value)
		}
		kindKey, kindValue = key, value
	}
	if kindKey == nil {
		return Step{}, yamlfile.Errorf(file, node, "step has no action (kinds: %s)", strings.Join(drivers.Kinds(), ", "))
	}
	var raw rawStep
	if err := yamlfile.Decode(file, common, &raw); err != nil {
		return Step{}, err
	}
	parse, _ := drivers.Parser(kindKey.Value)
	action, err := parse(kindKey.Value, file, kindValue)
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
	retries := -1
	if raw.Retries != nil {
		if retries = *raw.Retries; retries < 0 || retries > MaxRetries {
			return Step{}, yamlfile.Errorf(file, fieldNode(node, "retries"), "retries must be 0 to %d", MaxRetries)
		}
	}
	name := raw.Name
	if name == "" {
		name = action.Command()
	}
	return Step{Name: name, Kind: kindKey.Value, Action: action, Expect: expect, Timeout: raw.Timeout, Critical: raw.Critical,
		Retries: retries, Needs: raw.Needs, Line: node.Line}, nil
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

// TimeoutFor is the bound on step s under plan p, the one place its
// precedence is decided: the step's own timeout, else override (the
// --timeout flag), else the plan's, else DefaultStepTimeout.
func (p *Plan) TimeoutFor(s Step, override time.Duration) time.Duration {
	for _, d := range []time.Duration{s.Timeout, override, p.Timeout} {
		if d > 0 {
			return d
		}
	}
	return DefaultStepTimeout
}

// Command is a one-step plan that runs argv on every host: what
// `everywhere exec` broadcasts. A single argument is shell text, as with
// ssh; several are quoted so each arrives as one argument.
func Command(argv []string) *Plan {
	text := argv[0]
	if len(argv) > 1 {
		text = host.ShellQuote(argv)
	}
	return &Plan{Name: "exec", Steps: []Step{{Name: text, Kind: shell.Kind, Action: shell.Script(text)}}}
}
