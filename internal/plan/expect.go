package plan

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/result"
	"everywhere/internal/yamlfile"
)

// Expect is what a step's result must show besides its exit code.
// Text expectations look at standard output; matches is a regular
// expression in multi-line mode, so ^ii finds the line dpkg -l marks
// installed.
type Expect struct {
	ExitCode        int
	ExitCodeSet     bool // exit_code was written in the plan, so it is reported
	Contains        []string
	NotContains     []string
	Matches         *regexp.Regexp // as written; it is applied line by line (see matchLines)
	ArchMatchesHost bool
	matchLines      *regexp.Regexp // Matches in multi-line mode: ^ and $ at line boundaries
}

type rawExpect struct {
	ExitCode        *int       `yaml:"exit_code"`
	Contains        stringList `yaml:"contains"`
	NotContains     stringList `yaml:"not_contains"`
	Matches         string     `yaml:"matches"`
	ArchMatchesHost bool       `yaml:"arch_matches_host"`
}

// stringList accepts one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		*l = []string{node.Value}
		return nil
	}
	var list []string
	if err := node.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}

func (r rawExpect) compile(file string, node *yaml.Node) (Expect, error) {
	e := Expect{Contains: r.Contains, NotContains: r.NotContains, ArchMatchesHost: r.ArchMatchesHost}
	if r.ExitCode != nil {
		e.ExitCode, e.ExitCodeSet = *r.ExitCode, true
	}
	if r.Matches != "" {
		re, err := regexp.Compile(r.Matches)
		if err != nil {
			return Expect{}, yamlfile.Errorf(file, node, "expect.matches: %v", err)
		}
		e.Matches, e.matchLines = re, regexp.MustCompile("(?m)"+r.Matches)
	}
	return e, nil
}

// ExitOK says whether the exit code (and the absence of a killing signal)
// is what the step expects.
func (e Expect) ExitOK(out *host.Output) bool {
	return out.Signal == "" && out.ExitCode == e.ExitCode
}

// Check evaluates every written expectation against out from host h.
func (e Expect) Check(out *host.Output, h inventory.Host) []result.Outcome {
	var outcomes []result.Outcome
	stdout := out.Stdout.String()
	if e.ExitCodeSet {
		o := result.Outcome{Name: fmt.Sprintf("exit_code %d", e.ExitCode), OK: e.ExitOK(out)}
		if !o.OK {
			o.Detail = describeExit(out)
		}
		outcomes = append(outcomes, o)
	}
	for _, s := range e.Contains {
		o := result.Outcome{Name: fmt.Sprintf("contains %q", s), OK: strings.Contains(stdout, s)}
		if !o.OK {
			o.Detail = "not in standard output"
		}
		outcomes = append(outcomes, o)
	}
	for _, s := range e.NotContains {
		o := result.Outcome{Name: fmt.Sprintf("not_contains %q", s), OK: !strings.Contains(stdout, s)}
		if !o.OK {
			o.Detail = "found in standard output"
		}
		outcomes = append(outcomes, o)
	}
	if e.Matches != nil {
		lines := e.matchLines
		if lines == nil {
			lines = regexp.MustCompile("(?m)" + e.Matches.String())
		}
		o := result.Outcome{Name: fmt.Sprintf("matches /%s/", e.Matches), OK: lines.MatchString(stdout)}
		if !o.OK {
			o.Detail = "no match in standard output"
		}
		outcomes = append(outcomes, o)
	}
	if e.ArchMatchesHost {
		outcomes = append(outcomes, archOutcome(stdout, h))
	}
	return outcomes
}

// archOutcome catches the wrong-image or emulated-host mistake: every
// architecture the output names must be the one the inventory declares.
func archOutcome(stdout string, h inventory.Host) result.Outcome {
	o := result.Outcome{Name: "arch_matches_host " + string(h.Arch)}
	found, words := host.ArchesIn(stdout)
	if len(found) == 0 {
		o.Detail = "the output names no architecture"
		return o
	}
	for i, a := range found {
		if a != h.Arch {
			o.Detail = fmt.Sprintf("host reports %s (%s), inventory declares %s", words[i], a, h.Arch)
			return o
		}
	}
	o.OK = true
	return o
}

func describeExit(out *host.Output) string {
	if out.Signal != "" {
		return "killed by " + host.SignalName(out.Signal)
	}
	return fmt.Sprintf("exit status %d", out.ExitCode)
}
