package netprobe

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
)

func TestProbeLoopback(t *testing.T) {
	p := Probe{To: "127.0.0.1", Port: startServer(t), LongMiB: 4, Duration: 500 * time.Millisecond}
	for _, c := range []struct {
		test, unit string
		detail     *regexp.Regexp
	}{
		{host.TestShort, "ms", regexp.MustCompile(`^1024 bytes echoed, sha256 ok$`)},
		{host.TestLong, "ms", regexp.MustCompile(`^4 MiB, sha256 ok, [0-9.]+ MiB/s$`)},
		{host.TestThroughput, "Mbit/s", regexp.MustCompile(`^[0-9.]+ MiB in 0\.[5-9][0-9] s$`)},
	} {
		m := p.Measure(context.Background(), c.test)
		t.Logf("%+v", m)
		if !m.OK || m.Test != c.test || m.Unit != c.unit || m.Value <= 0 || !c.detail.MatchString(m.Detail) || m.Emulated {
			t.Errorf("%s: %+v, want OK with a detail matching %s", c.test, m, c.detail)
		}
	}
	if m := (Probe{To: "127.0.0.1", Port: p.Port, Duration: 200 * time.Millisecond, MinMbit: 1e9}).Throughput(context.Background()); m.OK || !strings.HasSuffix(m.Detail, "below the minimum of 1e+09 Mbit/s") {
		t.Errorf("throughput below the minimum: %+v", m)
	}
	if m := p.Measure(context.Background(), "bogus"); m.OK || m.Detail != "unknown test" {
		t.Errorf("unknown test: %+v", m)
	}
}

func TestProbeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := Probe{To: "127.0.0.1", Port: port}
	want := fmt.Sprintf("connect 127.0.0.1:%d: connection refused", port)
	for _, test := range []string{host.TestShort, host.TestLong, host.TestThroughput} {
		start := time.Now()
		m := p.Measure(context.Background(), test)
		if m.OK || m.Detail != want || time.Since(start) > time.Second {
			t.Errorf("%s: %+v after %s, want a quick FAIL saying %q", test, m, time.Since(start), want)
		}
	}
}

// corruptingServer answers the protocol with one byte of the data changed.
func corruptingServer(t *testing.T) (port int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				mode, _ := r.ReadString('\n')
				data, _ := io.ReadAll(r)
				if len(data) > 0 {
					data[len(data)/2] ^= 1
				}
				switch mode {
				case "echo\n":
					conn.Write(data)
				case "sink\n":
					fmt.Fprintf(conn, "%d %x\n", len(data), sha256.Sum256(data))
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestProbeCorruption(t *testing.T) {
	p := Probe{To: "127.0.0.1", Port: corruptingServer(t), LongMiB: 1}
	for test, want := range map[string]string{
		host.TestShort: "1024 bytes sent, 1024 echoed, sha256 mismatch",
		host.TestLong:  "1 MiB, sha256 mismatch, ",
	} {
		if m := p.Measure(context.Background(), test); m.OK || !strings.HasPrefix(m.Detail, want) {
			t.Errorf("%s: %+v, want a FAIL saying %q", test, m, want)
		}
	}
}

// A peer that accepts and then never reads: the context's end must end
// the tests at once, as their budget would later.
func TestProbeCanceled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	p := Probe{To: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, LongMiB: 1 << 20, Duration: time.Hour, PingCount: 1000}
	for _, test := range host.NetTests {
		if test == host.TestPing && os.Geteuid() != 0 {
			continue // ping needs root here; TestPing says so
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		m := p.Measure(ctx, test)
		took := time.Since(start)
		cancel()
		if m.OK || !strings.HasSuffix(m.Detail, ": context deadline exceeded") || took > time.Second {
			t.Errorf("%s: %+v after %s, want a FAIL saying the context ended, soon after 300ms", test, m, took)
		}
	}
}

// TestSlowdownScalesBudgets: an emulated machine's slowdown stretches the
// tests' budgets, never the throughput test's own length.
func TestSlowdownScalesBudgets(t *testing.T) {
	if got := (Probe{}).budget(longBudgetBase); got != longBudgetBase {
		t.Errorf("no slowdown: %s", got)
	}
	if got := (Probe{Slowdown: 5}).budget(longBudgetBase + 32*longBudgetPerMiB); got != 5*(longBudgetBase+32*longBudgetPerMiB) {
		t.Errorf("slowdown 5: %s", got)
	}
}
