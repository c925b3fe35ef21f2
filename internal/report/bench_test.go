package report

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"everywhere/internal/result"
)

// BenchmarkSideLongLine renders one host that printed a single line of
// 1 KiB to 1 MiB: the time should grow with the size, not its square.
func BenchmarkSideLongLine(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 300 << 10, 1 << 20} {
		line := strings.Repeat("0123456789abcdef", size/16)
		res := tiny(1, "print one long line", withOutput(line, ""))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := Side(io.Discard, res, SideOptions{Width: 120}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bigFleet is hosts × 10 steps of short, mostly agreeing output.
func bigFleet(hosts int) *result.Result {
	res := fleet(hosts, 7)
	for i := 2; i < 10; i++ {
		res.Steps = append(res.Steps, fmt.Sprintf("step%d", i))
	}
	for h := range res.Hosts {
		for i := 2; i < 10; i++ {
			out := fmt.Sprintf("line one of step %d on %s\nline two\n", i, res.Hosts[h].Name)
			s := result.StepResult{Name: res.Steps[i], Command: "echo", Status: result.OK, ExitCode: code(0), Stdout: out, DurationMS: 10}
			if h%97 == 0 && i == 5 {
				s.Status, s.ExitCode, s.Stderr = result.Failed, code(1), "E: something\n"
			}
			res.Hosts[h].Steps = append(res.Hosts[h].Steps, s)
		}
	}
	return res
}

// BenchmarkSideFleet renders 200, 2000 and 5000 hosts × 10 steps, grouped
// (the default for a fleet this size) and in columns (--group=false).
func BenchmarkSideFleet(b *testing.B) {
	for _, hosts := range []int{200, 2000, 5000} {
		res := bigFleet(hosts)
		for _, g := range []struct {
			name string
			mode Layout
		}{{"grouped", LayoutAuto}, {"columns", LayoutColumns}} {
			b.Run(fmt.Sprintf("%dhosts/%s", hosts, g.name), func(b *testing.B) {
				for b.Loop() {
					if err := Side(io.Discard, res, SideOptions{Width: 120, Layout: g.mode}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
