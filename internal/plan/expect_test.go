package plan

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
)

// dpkgList is `dpkg -l docker.io` on Debian bookworm, as it prints it.
const dpkgList = `Desired=Unknown/Install/Remove/Purge/Hold
| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend
|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)
||/ Name           Version                     Architecture Description
+++-==============-===========================-============-=================================
ii  docker.io      20.10.24+dfsg1-1+deb12u1+b6 amd64        Linux container runtime
`

func compileExpect(t *testing.T, src string) Expect {
	t.Helper()
	var raw rawExpect
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(src), &node); err != nil {
		t.Fatal(err)
	}
	if err := node.Content[0].Decode(&raw); err != nil {
		t.Fatal(err)
	}
	e, err := raw.compile("plan.yaml", node.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMatchesIsMultiLine(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
	}{
		{`'^ii'`, true},
		{`'^ii +docker\.io '`, true},
		{`'^ii +docker\.io +20\.10\.[0-9.+a-z-]+ +amd64'`, true},
		{`'runtime$'`, true},
		{`'^rc'`, false},
		{`'^ii +podman '`, false},
	}
	out := host.NewOutput(host.DefaultOutputLimit)
	_, _ = out.Stdout.Write([]byte(dpkgList))
	for _, tt := range tests {
		e := compileExpect(t, "matches: "+tt.pattern)
		got := e.Check(out, inventory.Host{Name: "build", Arch: host.AMD64})
		if len(got) != 1 || got[0].OK != tt.ok {
			t.Errorf("matches %s: %+v, want ok %v", tt.pattern, got, tt.ok)
		}
		if e.Matches.String() != tt.pattern[1:len(tt.pattern)-1] {
			t.Errorf("the pattern is reported as %q", e.Matches.String())
		}
	}
}
