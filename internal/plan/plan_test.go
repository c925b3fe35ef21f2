package plan

import (
	"strings"
	"testing"
	"time"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/result"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no steps", "name: x\n", "plan.yaml:1: no steps: the plan needs a steps: list"},
		{"unknown kind", "steps:\n  - {name: a, bash: ls}\n", `plan.yaml:2: unknown step field or kind "bash" (fields: critical, expect, name, needs, retries, timeout; kinds: `},
		{"two kinds", "steps:\n  - name: a\n    shell: ls\n    shell: pwd\n", `plan.yaml:4: step has two actions, "shell" and "shell"`},
		{"no action", "steps:\n  - {name: a}\n", "plan.yaml:2: step has no action (kinds: "},
		{"not a mapping", "steps:\n  - uname -a\n", "plan.yaml:2: a step is a mapping such as {name: kernel, shell: uname -a}"},
		{"empty shell", "steps:\n  - {shell: ''}\n", "plan.yaml:2: shell: want the command text"},
		{"unknown expect key", "steps:\n  - shell: ls\n    expect: {contain: x}\n", `plan.yaml:3: unknown field "contain" (known: arch_matches_host, contains, exit_code, matches, not_contains)`},
		{"bad regex", "steps:\n  - shell: ls\n    expect: {matches: '('}\n", "plan.yaml:3: expect.matches: error parsing regexp"},
		{"duplicate names", "steps:\n  - {name: a, shell: ls}\n  - {name: a, shell: pwd}\n", `plan.yaml:3: steps[1]: duplicate step name "a" (first at line 2)`},
		{"bad timeout", "steps:\n  - {shell: ls, timeout: soon}\n", "plan.yaml:2: cannot unmarshal !!str `soon` into time.Duration"},
		{"negative timeout", "steps:\n  - {shell: ls, timeout: -1s}\n", "plan.yaml:2: timeout must not be negative"},
		{"unknown top key", "stepz: []\n", `plan.yaml:1: unknown field "stepz" (known: cleanup, name, steps, timeout, timeout_scale)`},
		{"negative retries", "steps:\n  - {shell: ls, retries: -1}\n", "plan.yaml:2: retries must be 0 to 10"},
		{"needs a later step", "steps:\n  - {name: a, shell: ls, needs: [b]}\n  - {name: b, shell: ls}\n", `plan.yaml:2: steps[0]: needs "b", which is not an earlier step of steps`},
		{"unknown scale", "timeout_scale: {arm: 2}\nsteps: [{shell: ls}]\n", `plan.yaml:1: unknown field "arm" (known: emulated)`},
		{"negative scale", "timeout_scale: {emulated: -2}\nsteps: [{shell: ls}]\n", `plan.yaml:1: timeout_scale: emulated: -2 is not a factor`},
		{"cleanup not a list", "steps: [{shell: ls}]\ncleanup: {shell: ls}\n", "plan.yaml:2: cleanup: want a list of steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("plan.yaml", []byte(tt.yaml), drivers.All())
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	p, err := Parse("/plans/smoke.yaml", []byte(`
timeout: 30s
steps:
  - {name: kernel, shell: uname -a, expect: {arch_matches_host: true}, critical: true}
  - shell: dpkg -l docker.io
    timeout: 5s
    expect: {exit_code: 1, contains: [docker, io], not_contains: error, matches: '^ii'}
cleanup:
  - {shell: rm -f /tmp/x}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "smoke" || len(p.Steps) != 2 || len(p.Cleanup) != 1 {
		t.Fatalf("got %+v", p)
	}
	s := p.Steps[1]
	if s.Name != "dpkg -l docker.io" || s.Line != 5 || p.TimeoutFor(s, 0) != 5*time.Second || p.TimeoutFor(p.Steps[0], 0) != 30*time.Second {
		t.Errorf("step defaults wrong: %+v", s)
	}
	if !p.Steps[0].Critical || !p.Steps[0].Expect.ArchMatchesHost {
		t.Errorf("first step: %+v", p.Steps[0])
	}
	e := s.Expect
	if !e.ExitCodeSet || e.ExitCode != 1 || strings.Join(e.Contains, ",") != "docker,io" || strings.Join(e.NotContains, ",") != "error" || e.Matches.String() != "^ii" {
		t.Errorf("expect: %+v", e)
	}
}

func output(stdout string, exit int, signal string) *host.Output {
	out := host.NewOutput(1 << 10)
	out.ExitCode, out.Signal = exit, signal
	out.Stdout.Write([]byte(stdout))
	return out
}

func TestCheck(t *testing.T) {
	arm := inventory.Host{Name: "pi", Arch: host.ArmHF}
	exit2 := 2
	tests := []struct {
		name   string
		expect Expect
		out    *host.Output
		want   []result.Outcome
	}{
		{"arch ok", Expect{ArchMatchesHost: true}, output("armv7l\n", 0, ""),
			[]result.Outcome{{Name: "arch_matches_host armhf", OK: true}}},
		{"arch wrong", Expect{ArchMatchesHost: true}, output("Linux pi 6.1 x86_64 GNU/Linux\n", 0, ""),
			[]result.Outcome{{Name: "arch_matches_host armhf", Detail: "host reports x86_64 (amd64), inventory declares armhf"}}},
		{"arch absent", Expect{ArchMatchesHost: true}, output("", 0, ""),
			[]result.Outcome{{Name: "arch_matches_host armhf", Detail: "the output names no architecture"}}},
		{"exit code", Expect{ExitCode: exit2, ExitCodeSet: true}, output("", 0, ""),
			[]result.Outcome{{Name: "exit_code 2", Detail: "exit status 0"}}},
		{"killed", Expect{ExitCodeSet: true}, output("", 137, "SIGKILL"),
			[]result.Outcome{{Name: "exit_code 0", Detail: "killed by SIGKILL"}}},
		{"contains", Expect{Contains: []string{"RUNNING", "c1"}, NotContains: []string{"STOPPED"}}, output("c1 STOPPED", 0, ""),
			[]result.Outcome{{Name: `contains "RUNNING"`, Detail: "not in standard output"}, {Name: `contains "c1"`, OK: true},
				{Name: `not_contains "STOPPED"`, Detail: "found in standard output"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.expect.Check(tt.out, arm)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("outcome %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCommand(t *testing.T) {
	if got := Command([]string{"uname -a; id"}).Steps[0].Action.Command(); got != "uname -a; id" {
		t.Errorf("single argument is shell text: %q", got)
	}
	if got := Command([]string{"sh", "-c", "echo $HOME"}).Steps[0].Action.Command(); got != "sh -c 'echo $HOME'" {
		t.Errorf("argv is quoted: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("steps:\n  - {name: a, shell: ls, expect: {contains: x}}\ncleanup: [{shell: pwd}]\n"))
	f.Add([]byte("steps: [{shell: ls, expect: {matches: '(a'}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data, drivers.All())
		if err == nil && len(p.Steps) == 0 {
			t.Fatal("valid plan without steps")
		}
	})
}
