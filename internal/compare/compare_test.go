package compare

import (
	"fmt"
	"strings"
	"testing"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

func TestMaskApply(t *testing.T) {
	mask := Identity{Name: "pi4", Arch: "armhf", Address: "10.213.0.11:22", RunID: "20261201-120000-feedbeef"}.Mask(true)
	for in, want := range map[string]string{
		"armv7l\n":                                "<arch>\n",
		"Linux pi4 6.1.0 armv7l GNU/Linux":        "Linux <host> 6.1.0 <arch> GNU/Linux",
		"dpkg: armhf; uname: armv7l; go: arm":     "dpkg: <arch>; uname: <arch>; go: <arch>",
		"everywhere/debian  ca4d56979897  arm/v7": "everywhere/debian  <id>  <arch>",
		"aarch64":                                  "aarch64", // not its own: stays, and stands out
		"inet 10.213.0.11/24 brd 10.213.0.255":     "inet <address>/24 brd 10.213.0.255",
		"10.213.0.110 10.213.0.11:22":              "10.213.0.110 <address>",
		"/tmp/everywhere-20261201-120000-feedbeef": "/tmp/everywhere-<run>",
		"pi40 spi4 pi4.lan":                        "pi40 spi4 <host>.lan",
		// volatile values
		"eth0@if168       UP             10.213.0.11/24":       "eth0@if<index>       UP             <address>/24",
		"2: eth0@if7: <BROADCAST,MULTICAST,UP>":                "<index>: eth0@if<index>: <BROADCAST,MULTICAST,UP>",
		"sshd[1234]: accepted; pid 99, PID=7":                  "sshd[<pid>]: accepted; pid <pid>, PID=<pid>",
		"sha256:" + strings.Repeat("ab12", 16):                 "<id>",
		"6e2ad5760ee5 f81d4fae-7dec-11d0-a765-00a0c91e6bf6":    "<id> <id>",
		"acceptedface decade":                                  "acceptedface decade", // hex letters, no digit: words
		"link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff":   "link/ether <mac> brd <mac>",
		"Mon Dec  7 16:10:28 UTC 2026; 2026-12-07T16:10:28.5Z": "Mon Dec  7 <time> UTC 2026; <time>",
		"took 12ms, 0.8s, 3 seconds; real 0m0.003s":            "took <duration>, <duration>, <duration>; real <duration>",
		"Up 2 days, created 3 weeks ago":                       "Up <duration>, created <duration> ago",
		"s390x 350.6MB 64 bytes 6.1.0-28":                      "s390x 350.6MB 64 bytes 6.1.0-28", // no unit of time
	} {
		if got := mask.Apply(in); got != want {
			t.Errorf("Apply(%q) = %q, want %q", in, got, want)
		}
	}
}

// ids are hosts named as given, of the given archs.
func ids(names, archs []string) []Identity {
	out := make([]Identity, len(names))
	for i := range names {
		out[i] = Identity{Name: names[i], Arch: archs[i], Address: fmt.Sprintf("10.0.0.%d:22", i+1), RunID: "r"}
	}
	return out
}

func ok(stdout string) Answer { return Answer{Status: result.OK, Texts: [3]string{Stdout: stdout}} }

func odd(s *Step) []int {
	var list []int
	for h := range s.of {
		if s.Odd(h) {
			list = append(list, h)
		}
	}
	return list
}

func TestCompare(t *testing.T) {
	six := []string{"armhf", "arm64", "i686", "amd64", "ppc64el", "s390x"}
	names := []string{"pi", "rpi", "atom", "build", "power", "z"}
	kernel := func(i int) string { a, _ := host.ParseArch(six[i]); return a.Kernel() + "\n" }
	tests := []struct {
		name    string
		names   []string
		archs   []string
		answer  func(i int) Answer
		verdict Verdict
		odd     []int
	}{
		{"six archs, each its own", names, six, func(i int) Answer { return ok(kernel(i)) }, Equal, nil},
		{"one prints another's arch", names, six, func(i int) Answer {
			if i == 2 {
				return ok("x86_64\n")
			}
			return ok(kernel(i))
		}, Majority, []int{2}},
		{"eth0 index and address", names, six, func(i int) Answer {
			return ok(fmt.Sprintf("eth0@if%d   UP   10.0.0.%d/24\n", 168+i, i+1))
		}, Equal, nil},
		{"a failure among successes", names, six, func(i int) Answer {
			if i == 4 {
				return Answer{Status: result.Failed, Texts: [3]string{Reason: "exit status 1", Stderr: "E: nope\n"}}
			}
			return ok("fine\n")
		}, Majority, []int{4}},
		{"hostname", names, six, func(i int) Answer { return ok(names[i] + "\n") }, Equal, nil},
		{"distros named after themselves", []string{"debian", "ubuntu", "fedora"}, []string{"amd64", "amd64", "amd64"},
			func(i int) Answer { return ok("ID=" + []string{"debian", "ubuntu", "fedora"}[i] + "\n") }, Split, []int{0, 1, 2}},
		{"a name another host prints", []string{"web", "db", "cache"}, []string{"amd64", "amd64", "amd64"},
			func(i int) Answer { return ok([]string{"role=web", "role=db\nfriend=web", "role=cache"}[i] + "\n") }, Split, []int{0, 1, 2}},
		{"two equal, one not", []string{"a1", "a2", "a3"}, []string{"amd64", "amd64", "amd64"},
			func(i int) Answer { return ok([]string{"x", "x", "y"}[i]) }, Majority, []int{2}},
		{"no such step: apart, not a difference", []string{"a1", "a2", "a3"}, []string{"amd64", "amd64", "amd64"},
			func(i int) Answer {
				if i == 0 {
					return Answer{None: true}
				}
				return ok("x")
			}, Equal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := make([]Answer, len(tt.names))
			for i := range answers {
				answers[i] = tt.answer(i)
			}
			s := Compare(ids(tt.names, tt.archs), answers)
			if s.Verdict != tt.verdict || fmt.Sprint(odd(s)) != fmt.Sprint(tt.odd) {
				t.Errorf("verdict %d, odd %v; want %d, %v; groups %+v", s.Verdict, odd(s), tt.verdict, tt.odd, s.Groups)
			}
		})
	}
}

func TestShow(t *testing.T) {
	archs := []string{"amd64", "arm64", "amd64"}
	names := []string{"h1", "h2", "h3"}
	answers := []Answer{ok("x86_64\nsame\n"), ok("aarch64\nsame\n"), ok("x86_64\nsame\n")}
	s := Compare(ids(names, archs), answers)
	sh := s.Show(0, Stdout)
	if sh.Text != "<arch>\nsame\n" || len(sh.Varied) != 1 || sh.Varied[0].Line != 0 {
		t.Fatalf("shown %+v", sh)
	}
	v := sh.Varied[0]
	if len(v.Slots) != 1 || fmt.Sprint(v.Slots[0].Values) != "[{x86_64 [0 2]} {aarch64 [1]}]" || fmt.Sprint(v.Variants) != "[{x86_64 [0 2]} {aarch64 [1]}]" {
		t.Errorf("varied %+v", v)
	}
	// Eight hosts of one arch: the value is shown, not a mask.
	same := Compare(ids([]string{"a", "b"}, []string{"amd64", "amd64"}), []Answer{ok("x86_64\n"), ok("x86_64\n")})
	if sh := same.Show(0, Stdout); sh.Text != "x86_64\n" || sh.Varied != nil {
		t.Errorf("one arch: %+v", sh)
	}
	// Each host's own name: <host>, Own.
	own := Compare(ids([]string{"a", "b"}, []string{"amd64", "amd64"}), []Answer{ok("a\n"), ok("b\n")})
	if sh := own.Show(0, Stdout); sh.Text != "<host>\n" || !sh.Varied[0].Slots[0].Own {
		t.Errorf("own names: %+v", sh)
	}
}

func TestSeverity(t *testing.T) {
	order := []result.Status{result.OK, result.Flaky, result.Failed, result.Timeout, result.Error}
	for i := 1; i < len(order); i++ {
		if result.Worse(order[i-1], order[i]) != order[i] || result.Worse(order[i], order[i-1]) != order[i] {
			t.Errorf("%s is not worse than %s", order[i], order[i-1])
		}
	}
	if result.Worse(result.OK, result.Skipped) != result.OK || result.Skipped.Severity() != 0 {
		t.Errorf("skipped is as bad as ok")
	}
}

// BenchmarkLive2000 is a live view's comparing of one step as 2,000 hosts
// finish it, one at a time: one op is the whole step.
func BenchmarkLive2000(b *testing.B) {
	const n = 2000
	names, archs := make([]string, n), make([]string, n)
	for i := range n {
		names[i], archs[i] = fmt.Sprintf("web%d", i+1), "amd64"
	}
	hosts := ids(names, archs)
	for b.Loop() {
		l := NewLive(hosts)
		for i := range n {
			l.Add(i, ok(fmt.Sprintf("web%d\neth0@if%d UP 10.0.0.%d/24\n", i+1, i, i+1)))
		}
	}
}
